"""The Textual console: the App (`ui.app`), its factory, screens, widgets and themes.

Above actions and the domain, below the CLI. Screens reach the App only through the small
host protocol in `ui.host`, so no screen imports the App.
"""
