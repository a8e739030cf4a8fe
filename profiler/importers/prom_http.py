"""A small Prometheus HTTP API client (stdlib urllib): auth, TLS, timeouts, bounded retries.

Secrets are read from an environment variable or a file named by the caller and never appear
in an error message. Answers are counted (bytes, requests) for the fleet benchmark.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.errors import InputError, UsageError

RETRY_STATUS = {429, 502, 503, 504}


@dataclass(frozen=True, slots=True)
class Auth:
    """Where the credentials are: names of environment variables or files, never the values."""

    bearer_token_env: str | None = None
    bearer_token_file: Path | None = None
    basic_auth_env: str | None = None  # "user:password"
    basic_auth_file: Path | None = None

    def header(self) -> str | None:
        """The Authorization header value; UsageError naming the variable or file if unusable."""
        given = [x for x in (self.bearer_token_env, self.bearer_token_file, self.basic_auth_env,
                             self.basic_auth_file) if x]
        if len(given) > 1:
            raise UsageError("give one of --bearer-token-env/-file, --basic-auth-env/-file")
        if self.bearer_token_env or self.basic_auth_env:
            var = self.bearer_token_env or self.basic_auth_env or ""
            secret = os.environ.get(var, "").strip()
            if not secret:
                raise UsageError(f"environment variable {var} is not set or empty")
        elif self.bearer_token_file or self.basic_auth_file:
            path = self.bearer_token_file or self.basic_auth_file
            try:
                secret = Path(str(path)).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as e:
                raise UsageError(f"cannot read credentials file {path}: "
                                 f"{getattr(e, 'strerror', None) or type(e).__name__}") from None
            if not secret:
                raise UsageError(f"credentials file {path} is empty")
        else:
            return None
        if self.bearer_token_env or self.bearer_token_file:
            return f"Bearer {secret}"
        if ":" not in secret:
            raise UsageError("basic auth credentials must be user:password")
        return "Basic " + base64.b64encode(secret.encode()).decode()


@dataclass(slots=True)
class Stats:
    requests: int = 0
    bytes: int = 0
    series: int = 0
    points: int = 0
    seconds: float = 0.0
    queries: list[str] = field(default_factory=list)


class PromClient:
    """GET/POST the Prometheus HTTP API at `url`; errors become InputError naming the URL."""

    def __init__(self, url: str, *, auth: Auth | None = None, ca_file: Path | None = None,
                 insecure: bool = False, timeout_s: float = 30.0, retries: int = 2,
                 backoff_s: float = 0.5) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(f"--prometheus: {url!r} is not an http(s):// URL")
        if parsed.username or parsed.password:
            raise UsageError("--prometheus: put credentials in --basic-auth-env/-file, "
                             "not in the URL")
        self.url = url.rstrip("/")
        self.auth_header = (auth or Auth()).header()
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.stats = Stats()
        self._ssl: ssl.SSLContext | None = None
        if parsed.scheme == "https":
            try:
                ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
            except (OSError, ssl.SSLError) as e:
                raise UsageError(f"--ca-file {ca_file}: {e}") from None
            if insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx

    def api(self, path: str, params: dict[str, str | list[str]], method: str = "POST") -> Any:
        """The `data` member of an API answer, retrying transient failures.

        POST form bodies avoid URL length limits (query, query_range); label values are GET.
        """
        query = urllib.parse.urlencode(params, doseq=True)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json", "Accept-Encoding": "identity",
                   "User-Agent": "profiler"}
        if self.auth_header:
            headers["Authorization"] = self.auth_header
        attempt = 0
        t0 = time.monotonic()
        while True:
            request = (urllib.request.Request(self.url + path, data=query.encode(),
                                              headers=headers) if method == "POST"
                       else urllib.request.Request(f"{self.url}{path}?{query}",
                                                   headers=headers))
            try:
                raw = self._send(request)
                break
            except _Retry as e:
                if attempt >= self.retries:
                    raise InputError(self.url, f"{e.problem} (after {attempt + 1} tries)") from None
                time.sleep(self.backoff_s * 2**attempt)
                attempt += 1
        self.stats.seconds += time.monotonic() - t0
        self.stats.requests += 1
        self.stats.bytes += len(raw)
        return self._data(raw, path)

    def _send(self, request: urllib.request.Request) -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s,
                                        context=self._ssl) as r:
                data: bytes = r.read()
                return data
        except urllib.error.HTTPError as e:
            raw = e.read()
            if e.code in RETRY_STATUS:
                raise _Retry(f"HTTP {e.code} from {request.full_url}") from None
            if e.code in (401, 403):
                raise InputError(self.url, f"HTTP {e.code}: authentication refused; give "
                                 "--bearer-token-env/-file or --basic-auth-env/-file") from None
            message = _error_message(raw) or f"HTTP {e.code} {e.reason}"
            raise InputError(self.url, f"Prometheus refused the query: {message}") from None
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, ssl.SSLError):
                raise InputError(self.url, f"TLS failed: {reason.reason or reason}; "
                                 "--ca-file names a CA bundle") from None
            raise _Retry(f"cannot reach Prometheus: {reason}") from None
        except (TimeoutError, ConnectionError) as e:
            raise _Retry(f"cannot reach Prometheus: {e or type(e).__name__} "
                         f"(timeout {self.timeout_s:g} s)") from None

    def _data(self, raw: bytes, path: str) -> Any:
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            raise InputError(self.url, f"{path} did not answer JSON: {raw[:80]!r}") from None
        if not isinstance(doc, dict) or doc.get("status") != "success":
            message = _error_message(raw) or "no status"
            raise InputError(self.url, f"Prometheus refused the query: {message}")
        return doc.get("data")


class _Retry(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _error_message(raw: bytes) -> str | None:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if isinstance(doc, dict) and doc.get("error"):
        return f"{doc.get('errorType')}: {str(doc['error'])[:300]}"
    return None
