"""The OAuth redirect listener: what the browser is told, and what ``wait`` hands over."""

from __future__ import annotations

import pytest
import requests

from arconnect.callback import CallbackServer
from arconnect.errors import AuthError


def _visit(listener: CallbackServer, query: str) -> requests.Response:
    return requests.get(f"{listener.redirect_uri}?{query}", timeout=10)


def test_an_error_parameter_is_shown_as_text_never_run() -> None:
    with CallbackServer() as listener:
        listener.expect_state("s1")
        page = _visit(listener, "error=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
                                "&error_description=%3Cimg+src%3Dx+onerror%3Dalert(2)%3E"
                                "&state=s1")
        assert page.status_code == 200
        assert "<script>" not in page.text and "<img" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "&lt;img src=x onerror=alert(2)&gt;" in page.text
        assert "Not connected" in page.text and "Connected<" not in page.text
        assert page.headers["Content-Security-Policy"] == "default-src 'none'"
        with pytest.raises(AuthError, match="refused the connection: <script>"):
            listener.wait(timeout=5)


@pytest.mark.parametrize("query", ["code=abc&state=forged", "code=abc"])
def test_a_redirect_with_another_state_is_never_told_connected(query: str) -> None:
    with CallbackServer() as listener:
        listener.expect_state("the-real-state")
        page = _visit(listener, query)
        assert "Not connected" in page.text
        assert "<h2>Connected" not in page.text
        assert "state does not match" in page.text
        with pytest.raises(AuthError, match="state does not match"):
            listener.wait(timeout=5)


def test_the_matching_state_is_told_connected() -> None:
    with CallbackServer() as listener:
        listener.expect_state("the-real-state")
        page = _visit(listener, "code=abc&state=the-real-state")
        assert "<h2>Connected</h2>" in page.text
        assert listener.wait(timeout=5) == ("abc", "the-real-state")


def test_without_an_expected_state_the_page_does_not_claim_a_connection() -> None:
    with CallbackServer() as listener:
        page = _visit(listener, "code=abc&state=whatever")
        assert "<h2>Connected" not in page.text and "Authorization received" in page.text
        assert listener.wait(timeout=5) == ("abc", "whatever")
