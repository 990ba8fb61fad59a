"""The console's audible alert: a short two-tone beep written at start-up and played through Kivy."""
from __future__ import annotations

import math
import struct
import wave
from pathlib import Path
from typing import Any

from kivy.core.audio import SoundLoader

from kiosk.logbook import Event, log

RATE = 22_050
TONES = ((880.0, 0.16), (1320.0, 0.22))   # two rising notes: heard across a room, not mistaken for a phone


def write_beep(path: Path) -> Path:
    """A 16-bit mono WAV of the alert tones, with short fades so the speaker does not click."""
    frames = bytearray()
    fade = int(RATE * 0.01)
    for pitch, seconds in TONES:
        count = int(RATE * seconds)
        for i in range(count):
            envelope = min(1.0, i / fade, (count - i) / fade)
            frames += struct.pack("<h", int(14_000 * envelope * math.sin(2 * math.pi * pitch * i / RATE)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return path


class AlertSound:
    """Plays the beep; with no audio device (or no audio back end) it stays silent and says so once."""

    def __init__(self, folder: Path) -> None:
        self.attempted = 0      # alerts the console tried to sound
        self.played = 0         # of those, how many an audio device actually started playing
        self._folder = folder
        self._sound: Any = None
        self._told = False

    def play(self) -> None:
        """Sound the alert once; never raises, because the banner must still show."""
        self.attempted += 1
        try:
            if self._sound is None:
                self._sound = SoundLoader.load(str(write_beep(self._folder / "console-alert.wav")))
            if self._sound is None or not self._sound.length:
                raise OSError("no audio back end or device")
            self._sound.stop()
            self._sound.play()
            if self._sound.state != "play":
                raise OSError("the audio device did not start")
            self.played += 1
        except Exception as error:  # noqa: BLE001  any audio failure: the console carries on, silent
            if not self._told:
                self._told = True
                log(Event.REP_ALERT_SILENT, error=type(error).__name__)
