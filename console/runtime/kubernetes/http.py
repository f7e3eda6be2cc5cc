"""Requests to the API server through the official client's plumbing, built by path.

The kubernetes client does the hard parts: kubeconfig loading (contexts, TLS, client
certificates, exec credential plugins, token refresh), authentication headers, the urllib3
pool and the websocket for exec. Its generated API classes are not used: building
`CoreV1Api` costs about two seconds of CPU (thousands of validated methods) and would
stall the console's first frame; five paths and a handful of verbs are all this runtime
needs. Responses stay raw (`preload_content=False`) and are parsed as JSON dicts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from console.runtime.base import RuntimeUnavailable
from console.runtime.kubernetes.config import ClusterTarget

POOL_SIZE = 32  # five watches, their lists, log followers, actions: never wait for a slot
AUTH = ["BearerToken"]


class ApiError(Exception):
    """The API server answered with an error status; `message` is its Status message."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        self.status, self.reason, self.message = status, reason, message
        super().__init__(f"{status} {reason}" + (f": {message}" if message else ""))


class KubeHttp:
    """One context's configuration and connection pool."""

    def __init__(self, target: ClusterTarget) -> None:
        from kubernetes import client, config  # imported only when this runtime runs

        configuration = client.Configuration()
        try:
            config.load_kube_config(
                config_file=target.kubeconfig, context=target.context,
                client_configuration=configuration, persist_config=False,
            )
        except Exception as exc:  # the loader raises many kinds, all mean "no cluster"
            text = " ".join(str(exc).split())[:200]
            raise RuntimeUnavailable(f"kubeconfig {target.kubeconfig}: {text}") from exc
        configuration.connection_pool_maxsize = POOL_SIZE
        self.configuration = configuration
        self.api_client = client.ApiClient(configuration)

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, object] | None = None,
        body: object = None,
        content_type: str | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> Any:
        """The raw urllib3 response of a 2xx answer; an error status raises ApiError."""
        headers = {"Accept": "application/json, */*"}
        if content_type:
            headers["Content-Type"] = content_type
        method, url, headers, body, _ = self.api_client.param_serialize(
            method, path, query_params=list((query or {}).items()), header_params=headers,
            body=body, auth_settings=AUTH,
        )
        answer = self.api_client.call_api(method, url, header_params=headers, body=body,
                                          _request_timeout=timeout)
        raw = answer.response
        if not 200 <= answer.status <= 299:
            try:
                data = raw.data
            finally:
                raw.release_conn()
            raise ApiError(answer.status, str(answer.reason or ""), status_message(data))
        return raw

    def json(self, method: str, path: str, **kwargs: Any) -> dict:
        raw = self.request(method, path, **kwargs)
        try:
            body = json.loads(raw.data or b"{}")
        finally:
            raw.release_conn()
        return body if isinstance(body, dict) else {}

    def websocket(self, path: str, query: list[tuple[str, object]]) -> Any:
        """An exec websocket (`kubernetes.stream`'s WSClient), not yet read."""
        from kubernetes.stream import ws_client

        headers: dict[str, str] = {}
        self.api_client.update_params_for_auth(headers, [], AUTH, path, "GET", None)
        url = self.configuration.host + path
        try:
            return ws_client.websocket_call(self.configuration, "GET", url, query_params=query,
                                            headers=headers, _preload_content=False)
        except Exception as exc:  # the client wraps every failure in ApiException(0)
            raise ApiError(0, "websocket", " ".join(str(getattr(exc, "reason", exc)).split())) \
                from exc

    def close(self) -> None:
        self.api_client.close()


def status_message(data: bytes | None) -> str:
    """The `message` of a metav1.Status body, or the start of whatever came back."""
    text = (data or b"").decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200]
    return str(body.get("message") or "") if isinstance(body, dict) else ""
