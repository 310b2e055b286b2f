"""Manual actions: the vendor's hooks (shell command, webhook), the operator prompt, and INCONCLUSIVE when
an action cannot be performed."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from pathlib import Path
from typing import Iterator

import pytest

from harness.actions import Action, ActionUnavailable, HookDriver, PromptDriver
from harness.verdicts import HarnessError


async def test_a_shell_hook_gets_its_arguments_quoted(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    driver = HookDriver({"present_id_token": f"printf '%s|%s' {{id_token}} {{type}} > {out}"}, None, timeout=5)
    await driver.perform(Action("present_id_token", {"id_token": "A B;rm -rf x", "type": "ISO14443", "evse_id": 1}))
    assert out.read_text() == "A B;rm -rf x|ISO14443"


async def test_a_failing_hook_makes_the_action_unavailable() -> None:
    with pytest.raises(ActionUnavailable, match="exited with status 3"):
        await HookDriver({"reboot": "exit 3"}, None, timeout=5).perform(Action("reboot"))


@pytest.mark.parametrize("command, confirmed", [("true", True), ("false", False)])
async def test_a_question_hook_answers_with_its_exit_status(command: str, confirmed: bool) -> None:
    action = Action("csms_confirm_variable_read", {"identity": "CS001", "component": "C", "variable": "V", "value": "1"})
    result = await HookDriver({action.name: command}, None, timeout=5).perform(action)
    assert result.confirmed is confirmed


QUESTION = Action("csms_confirm_variable_read", {"identity": "CS001", "component": "C", "variable": "V", "value": "1"})


async def test_a_question_hook_that_cannot_check_makes_the_action_unavailable() -> None:
    """Exit 0 is yes, 1 is no; anything else (a crash, "I cannot tell") is INCONCLUSIVE, never a FAIL."""
    with pytest.raises(ActionUnavailable, match="cannot check"):
        await HookDriver({QUESTION.name: "exit 2"}, None, timeout=5).perform(QUESTION)


async def test_the_operator_can_answer_cannot_check() -> None:
    async def unsure() -> str:
        return "?\n"

    with pytest.raises(ActionUnavailable, match="cannot check"):
        await PromptDriver(5, unsure).perform(QUESTION)


async def test_a_hook_that_hangs_is_cut_at_its_timeout() -> None:
    with pytest.raises(ActionUnavailable, match="did not finish"):
        await HookDriver({"reboot": "exec sleep 30"}, None, timeout=0.3).perform(Action("reboot"))


async def test_a_hook_template_naming_an_unknown_field_is_a_harness_error() -> None:
    with pytest.raises(HarnessError):
        await HookDriver({"reboot": "ctl {no_such_field}"}, None, timeout=5).perform(Action("reboot"))


async def test_an_action_without_hook_is_unavailable() -> None:
    with pytest.raises(ActionUnavailable, match="no hook"):
        await HookDriver({}, None, timeout=5).perform(Action("reboot"))


class _Webhook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Webhook.received.append(body)
        answer = json.dumps({"confirmed": True}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def webhook() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/octt"
    server.shutdown()
    server.server_close()


async def test_a_webhook_receives_the_action_and_answers_a_question(webhook: str) -> None:
    action = Action("csms_confirm_variable_read", {"identity": "CS001", "component": "C", "variable": "V", "value": "1"})
    result = await HookDriver({}, webhook, timeout=5).perform(action)
    assert result.confirmed is True
    assert _Webhook.received[-1] == {"action": action.name, "params": action.params}


async def test_a_webhook_that_is_down_makes_the_action_unavailable() -> None:
    with pytest.raises(ActionUnavailable, match="webhook"):
        await HookDriver({}, "http://127.0.0.1:9/octt", timeout=2).perform(Action("reboot"))


async def test_the_prompt_waits_for_the_operator() -> None:
    async def enter() -> str:
        return "\n"

    async def yes() -> str:
        return "y\n"

    assert (await PromptDriver(5, enter).perform(Action("reboot"))).confirmed is None
    question = Action("csms_confirm_variable_read", {"identity": "CS001", "component": "C", "variable": "V", "value": "1"})
    assert (await PromptDriver(5, yes).perform(question)).confirmed is True


async def test_the_prompt_gives_up_at_its_timeout() -> None:
    async def never() -> str:
        await asyncio.Event().wait()
        return ""

    with pytest.raises(ActionUnavailable, match="no operator"):
        await PromptDriver(0.2, never).perform(Action("reboot"))


async def test_the_prompt_without_a_terminal_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(ActionUnavailable, match="no terminal"):
        await PromptDriver(5).perform(Action("reboot"))


async def test_the_prompt_says_what_to_do_where_and_with_which_token(capsys: pytest.CaptureFixture[str]) -> None:
    async def enter() -> str:
        return "\n"

    action = Action("present_id_token", {"id_token": "VALID001", "type": "ISO14443", "evse_id": 2})
    await PromptDriver(5, enter).perform(action)
    shown = capsys.readouterr().err
    assert "MANUAL ACTION: Present idToken VALID001 (type ISO14443) at EVSE 2." in shown
