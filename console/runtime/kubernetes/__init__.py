"""The Kubernetes runtime: API client (`http`, `config`), objects to states (`mapping`,
`rollout`), watches, metrics, exec and logs (`streams`)."""
