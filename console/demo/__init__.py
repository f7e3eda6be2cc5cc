"""The embedded demo: the whole Vextrus stack as local stand-in processes on loopback.

`console.demo.stack` writes the demo's stack file, faults and compose file from the bundled
inventory; `console.demo.standin` is one stand-in service; `actions.demo_story` plays the
seeds' story headless (`vextrus-console demo --script`). No Textual here.
"""
