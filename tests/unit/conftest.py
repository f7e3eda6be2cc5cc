"""The unit layer: the domain and the CLI headless, with loopback stand-ins at most.

Nothing here may need a real server (the root conftest stops the collection if one does);
the fake Kubernetes API server (`fake`, `runtime`) comes from the root conftest, which the
ui layer shares.
"""
