"""The command line: `vextrus-console` and its headless commands, one module per group.

The top layer. It parses, builds the context (`console.factory`) and either opens the
console (`ui.factory.build_app`) or runs actions headless; Textual is imported only when
the console opens. Shared options, exit codes and the error line live in `cli.common`.
"""
