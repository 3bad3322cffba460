"""Uploaded files of the simulated workspace: what `files_upload_v2` leaves behind.

Slack's upload is three steps (files.getUploadURLExternal, an HTTP POST of the bytes to the
returned upload_url, files.completeUploadExternal), so a file is first *reserved* (a name and a
declared length), then *uploaded* (its bytes), then *completed* (shared, or kept private).
The bytes are kept, so a test can open the image the bot sent.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from bot.devkit.simulator.models import PERMALINK_ROOT, TEAM_ID


@dataclass
class SimFile:
    id: str
    filename: str
    length: int
    reserved_at: float
    alt_txt: str | None = None
    title: str | None = None
    data: bytes | None = None
    completed: bool = False
    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None  # the share message in the channel (or thread)
    shares: list[str] = field(default_factory=list)

    @property
    def uploaded(self) -> bool:
        return self.data is not None

    @property
    def mimetype(self) -> str:
        lower = self.filename.lower()
        if lower.endswith(".png"):
            return "image/png"
        if lower.endswith((".jpg", ".jpeg")):
            return "image/jpeg"
        if lower.endswith(".csv"):
            return "text/csv"
        return "application/octet-stream"

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "mimetype": self.mimetype,
            "filetype": self.filename.rsplit(".", 1)[-1].lower() if "." in self.filename else "binary",
            "size": self.length,
            "alt_txt": self.alt_txt,
            "user_team": TEAM_ID,
            "is_public": self.channel is not None,
            "channels": list(self.shares),
            "url_private": f"{PERMALINK_ROOT}/files/{self.id}/{self.filename}",
        }


class FileStore:
    """The workspace's files by id; `upload_root` is set once the HTTP server listens."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.upload_root: str | None = None
        self._files: dict[str, SimFile] = {}

    def reserve(self, record: SimFile) -> SimFile:
        with self.lock:
            self._files[record.id] = record
            return copy.deepcopy(record)

    def get(self, file_id: str) -> SimFile | None:
        """The live record (callers hold `lock` while they change it)."""
        with self.lock:
            return self._files.get(file_id)

    def all(self) -> list[SimFile]:
        with self.lock:
            return [copy.deepcopy(f) for f in self._files.values()]
