"""The simulated Slack's file upload, as slack_sdk's `files_upload_v2` drives it:
files.getUploadURLExternal, a POST of the bytes to the upload_url the simulator serves itself,
files.completeUploadExternal; with Slack's checks, errors and Tier 4 limits."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.devkit.simulator import ManualClock, SlackSimulator, Tier

TOKEN = "xoxb-files"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock):
    with SlackSimulator(bot_token=TOKEN, clock=clock) as simulator:
        simulator.add_user("U1", "anna", "Anna Schmidt")
        simulator.add_channel("C1", "wins", members={"U1"})
        simulator.add_channel("C2", "elsewhere", bot_is_member=False, members={"U1"})
        yield simulator


@pytest.fixture
def client(sim: SlackSimulator) -> WebClient:
    return WebClient(token=TOKEN, base_url=sim.api_url)


def test_files_upload_v2_shares_the_bytes_into_a_thread(sim: SlackSimulator, client: WebClient) -> None:
    lead = client.chat_postMessage(channel="C1", text="Weekly digest")
    data = bytes(range(256)) * 40
    answer = client.files_upload_v2(
        channel="C1", thread_ts=lead["ts"], content=data, filename="chart.png", title="Chart", alt_txt="NPS"
    )
    assert answer["file"]["title"] == "Chart"
    assert [c.method for c in sim.calls] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert sim.calls_to("files.getUploadURLExternal")[0].params["length"] == str(len(data))
    (upload,) = sim.files("C1")
    assert (upload.data, upload.filename, upload.alt_txt, upload.completed) == (
        data,
        "chart.png",
        "NPS",
        True,
    )
    assert upload.mimetype == "image/png" and upload.thread_ts == lead["ts"]
    parent, reply = sim.thread("C1", lead["ts"])
    assert reply.files[0]["id"] == upload.id and reply.files[0]["name"] == "chart.png"
    replies = client.conversations_replies(channel="C1", ts=lead["ts"])["messages"]
    assert replies[1]["files"][0]["id"] == upload.id  # a bot can find its upload again
    assert sim.messages("C1") == [parent]  # a reply, not a new message in the channel


def test_completing_in_a_channel_without_the_bot_is_not_in_channel(
    sim: SlackSimulator, client: WebClient
) -> None:
    with pytest.raises(SlackApiError) as refused:
        client.files_upload_v2(channel="C2", content=b"png", filename="chart.png")
    assert refused.value.response["error"] == "not_in_channel"
    (reserved,) = sim.files()
    assert reserved.uploaded and not reserved.completed  # the bytes arrived; nothing was shared
    assert sim.messages("C2") == []
    with pytest.raises(SlackApiError) as unknown:
        client.files_upload_v2(channel="C404", content=b"png", filename="chart.png")
    assert unknown.value.response["error"] == "channel_not_found"


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"filename": "", "length": 3}, "invalid_arguments"),
        ({"filename": "../../etc/passwd", "length": 3}, "invalid_arguments"),
        ({"filename": "x" * 256, "length": 3}, "invalid_arguments"),
        ({"filename": "a.png"}, "invalid_arguments"),
        ({"filename": "a.png", "length": "three"}, "invalid_arguments"),
        ({"filename": "a.png", "length": 0}, "missing_argument"),
        ({"filename": "a.png", "length": 2**31}, "file_upload_size_restricted"),
        ({"filename": "a.png", "length": 3, "alt_txt": "a" * 1001}, "alt_txt_too_large"),
    ],
)
def test_get_upload_url_checks_the_filename_and_length(
    sim: SlackSimulator, client: WebClient, arguments: dict, error: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        client.api_call("files.getUploadURLExternal", params=arguments)
    assert refused.value.response["error"] == error
    assert sim.files() == []
    sim.take_violations()  # a file name with a path is recorded as a violation too


def _post(url: str, body: bytes) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST")) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_upload_url_takes_exactly_the_declared_bytes_once(sim: SlackSimulator, client: WebClient) -> None:
    reserved = client.files_getUploadURLExternal(filename="a.png", length=4)
    assert reserved["upload_url"].startswith(sim.base_url + "/upload/")
    assert _post(reserved["upload_url"], b"12345") == 400  # not the declared length
    assert any("5 bytes sent, 4 declared" in v for v in sim.take_violations())
    with pytest.raises(SlackApiError) as early:  # completing before the bytes arrived
        client.files_completeUploadExternal(files=[{"id": reserved["file_id"]}], channel_id="C1")
    assert early.value.response["error"] == "file_not_found"
    assert _post(reserved["upload_url"], b"1234") == 200
    assert _post(reserved["upload_url"], b"1234") == 400  # a URL is used once
    assert _post(sim.base_url + "/upload/F0NOPE", b"1234") == 404
    client.files_completeUploadExternal(files=[{"id": reserved["file_id"], "title": "A"}], channel_id="C1")
    with pytest.raises(SlackApiError) as twice:
        client.files_completeUploadExternal(files=[{"id": reserved["file_id"]}], channel_id="C1")
    assert twice.value.response["error"] == "file_not_found"
    assert [f.title for f in sim.files("C1")] == ["A"]


def test_complete_upload_checks_its_arguments(sim: SlackSimulator, client: WebClient) -> None:
    lead = client.chat_postMessage(channel="C1", text="lead")
    reply = client.chat_postMessage(channel="C1", text="reply", thread_ts=lead["ts"])
    reserved = client.files_getUploadURLExternal(filename="a.png", length=1)
    assert _post(reserved["upload_url"], b"x") == 200
    for params, error in [
        ({"files": "not json"}, "invalid_arguments"),
        ({"files": json.dumps([])}, "invalid_arguments"),
        ({"files": json.dumps([{"id": reserved["file_id"]}]), "thread_ts": lead["ts"]}, "invalid_arguments"),
        ({"files": json.dumps([{"id": reserved["file_id"], "title": "t" * 256}])}, "invalid_arguments"),
        (
            {
                "files": json.dumps([{"id": reserved["file_id"]}]),
                "channel_id": "C1",
                "thread_ts": reply["ts"],
            },
            "invalid_thread_ts",
        ),
        (
            {"files": json.dumps([{"id": reserved["file_id"]}]), "channel_id": "C1", "thread_ts": "1.000001"},
            "message_not_found",
        ),
    ]:
        with pytest.raises(SlackApiError) as refused:
            client.api_call("files.completeUploadExternal", params=params)
        assert refused.value.response["error"] == error, params
    assert not sim.files()[0].completed
    private = client.files_completeUploadExternal(files=[{"id": reserved["file_id"]}])  # no channel: private
    assert private["files"][0]["id"] == reserved["file_id"] and sim.files("C1") == []


def test_upload_methods_are_tier_4_per_workspace(clock: ManualClock) -> None:
    with SlackSimulator(bot_token=TOKEN, clock=clock, tier4=Tier(100, burst=2)) as sim:
        sim.add_channel("C1", "wins")
        client = WebClient(token=TOKEN, base_url=sim.api_url)
        for _ in range(2):
            client.files_upload_v2(channel="C1", content=b"png", filename="a.png")
        with pytest.raises(SlackApiError) as limited:
            client.files_upload_v2(channel="C1", content=b"png", filename="a.png")
        assert limited.value.response.status_code == 429
        assert limited.value.response.headers["Retry-After"] == "1"
        clock.advance(1.2)  # 100 a minute: one more in 0.6 s
        client.files_upload_v2(channel="C1", content=b"png", filename="a.png")
        assert len(sim.files("C1")) == 3


def test_an_empty_upload_is_refused_by_the_client_before_any_call(
    sim: SlackSimulator, client: WebClient
) -> None:
    with pytest.raises(SlackRequestError):
        client.files_upload_v2(channel="C1", filename="a.png")
    assert sim.calls == []
