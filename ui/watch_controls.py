"""The watching features on top of the player page: audio and subtitle tracks (menus and keys,
remembered per title, preferred languages), external subtitle files, subtitle delay, chapters
(keys, menu, marks on the seek bar), screenshots, the A-B loop and speed in 0.1 steps.

Owns these shortcuts, the Audio, Subtitles and Chapters menus, and the per-title memory of the
choices; playback itself stays with `ui.player_view.PlayerView`. What the viewer does is told
to whoever records telemetry through `viewer_action` (event type, properties without the
session id). GUI thread only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final

from PySide6.QtCore import QObject, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QMenu

from player.engine import Chapter, EngineEvent, EngineEventKind, MediaTrack, TrackEngine
from player.sources import is_url
from player.track_memory import SUBTITLES_OFF, TrackChoice, TrackMemory
from ui.controls import format_ms
from ui.player_view import PlayerView

log = logging.getLogger("reelscope.ui.watch")

SUBTITLE_SUFFIXES: Final = (".srt", ".ass", ".ssa", ".vtt", ".sub", ".smi")
SUBTITLE_FILTER: Final = "Subtitles (*.srt *.ass *.ssa *.vtt *.sub *.smi);;All files (*)"
SUBTITLE_DELAY_STEP_MS: Final = 50
RATE_STEP: Final = 0.1
MIN_RATE: Final = 0.1
MAX_RATE: Final = 4.0
# Previous chapter from further into a chapter than this restarts the chapter, as on a CD.
CHAPTER_RESTART_MS: Final = 3000
LOOP_CHECK_MS: Final = 50
SETTLE_MS: Final = 1500  # how long into a title remembered choices are (re)applied
_SETTLING_EVENTS: Final = frozenset(
    {EngineEventKind.TRACK_ADDED, EngineEventKind.VIDEO_OUTPUT, EngineEventKind.TIME_CHANGED}
)


def is_subtitle_file(path: str) -> bool:
    return not is_url(path) and Path(path).suffix.lower() in SUBTITLE_SUFFIXES


class WatchControls(QObject):
    """Tracks, subtitles, chapters, screenshots, A-B loop and fine speed for one player."""

    viewer_action = Signal(str, object)  # event type, properties (dict)
    chapters_changed = Signal(object)  # tuple[Chapter, ...] of the media just opened

    def __init__(
        self,
        player: PlayerView,
        memory: TrackMemory,
        *,
        preferred_audio: str = "",
        preferred_subtitle: str = "",
        screenshot_dir: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._player = player
        self._memory = memory
        self.preferred_audio = preferred_audio
        self.preferred_subtitle = preferred_subtitle
        pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
        self.screenshot_dir = screenshot_dir or Path(pictures or Path.home()) / "Reelscope"
        self._choices_settled = False
        self._added_subtitle_from: int | None = None  # the track shown before a file was added
        self._chapters: tuple[Chapter, ...] = ()
        self.loop_a_ms: int | None = None
        self.loop_b_ms: int | None = None
        self._loop_timer = QTimer(self)
        self._loop_timer.setInterval(LOOP_CHECK_MS)
        self._loop_timer.timeout.connect(self._on_loop_timer_timeout)
        player.opening.connect(self._on_player_opening)
        player.engine_event.connect(self._on_player_engine_event)
        self.audio_menu = QMenu("&Audio")
        self.audio_menu.aboutToShow.connect(self._on_audio_menu_about_to_show)
        self.subtitle_menu = QMenu("&Subtitles")
        self.subtitle_menu.aboutToShow.connect(self._on_subtitle_menu_about_to_show)
        self.chapter_menu = QMenu("&Chapters")
        self.chapter_menu.aboutToShow.connect(self._on_chapter_menu_about_to_show)
        self._install_shortcuts()

    @property
    def engine(self) -> TrackEngine:
        engine = self._player.engine
        if not isinstance(engine, TrackEngine):
            raise TypeError(f"{type(engine).__name__} has no tracks or chapters")
        return engine

    def _install_shortcuts(self) -> None:
        bindings: list[tuple[str, Callable[[], object]]] = [
            ("V", self.cycle_subtitles),
            ("B", self.cycle_audio),
            ("G", lambda: self.change_subtitle_delay(-SUBTITLE_DELAY_STEP_MS)),
            ("H", lambda: self.change_subtitle_delay(SUBTITLE_DELAY_STEP_MS)),
            ("PgUp", self.previous_chapter),
            ("PgDown", self.next_chapter),
            ("[", lambda: self.change_rate(-RATE_STEP)),
            ("]", lambda: self.change_rate(RATE_STEP)),
            ("=", lambda: self.set_rate(1.0)),
            ("S", self.take_screenshot),
            ("L", self.toggle_loop),
        ]
        for key, action in bindings:
            shortcut = QShortcut(QKeySequence(key), self._player)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)

    # -- audio and subtitle tracks -----------------------------------------------------------

    def set_audio_track(self, track: MediaTrack) -> None:
        before = self.engine.audio_track
        if self.engine.set_audio_track(track.id):
            self._player.status_message.emit(f"Audio: {track.name}")
            self._track_changed("audio", before, track.id)

    def set_subtitle_track(self, track: MediaTrack | None) -> None:
        """Show `track`, or turn subtitles off with None."""
        before = self.engine.subtitle_track
        if self.engine.set_subtitle_track(-1 if track is None else track.id):
            self._player.status_message.emit(
                "Subtitles off" if track is None else f"Subtitles: {track.name}"
            )
            self._track_changed("subtitle", before, -1 if track is None else track.id)

    def cycle_audio(self) -> None:
        tracks = self.engine.audio_tracks()
        if len(tracks) > 1:
            ids = [t.id for t in tracks]
            current = self.engine.audio_track
            self.set_audio_track(
                tracks[(ids.index(current) + 1) % len(ids) if current in ids else 0]
            )

    def cycle_subtitles(self) -> None:
        """The next subtitle track; after the last one, subtitles off."""
        options: list[MediaTrack | None] = [*self.engine.subtitle_tracks(), None]
        if len(options) == 1:
            self._player.status_message.emit("No subtitles")
            return
        current = self.engine.subtitle_track
        ids = [-1 if t is None else t.id for t in options]
        self.set_subtitle_track(
            options[(ids.index(current) + 1) % len(ids) if current in ids else 0]
        )

    def add_subtitle_file(self, path: str, method: str = "menu") -> bool:
        """Load an external subtitle file (`method`: menu or drop) and show it."""
        if self._player.source is None:
            return False
        before = self.engine.subtitle_track
        ok = self.engine.add_subtitle_file(path)
        self._player.status_message.emit(
            f"Subtitles: {Path(path).name}" if ok else f"Cannot load subtitles {Path(path).name}"
        )
        if ok:
            self.viewer_action.emit(
                "subtitle_file_added",
                {"method": method, "format": Path(path).suffix.lower().lstrip(".") or "unknown"},
            )
            # libVLC adds (and selects) the track once it has read the file: see TRACK_ADDED.
            self._added_subtitle_from = before
        return ok

    def choose_subtitle_file(self) -> None:
        source = self._player.source
        folder = "" if source is None or is_url(source) else str(Path(source).parent)
        path, _filter = QFileDialog.getOpenFileName(
            self._player, "Add Subtitle File", folder, SUBTITLE_FILTER
        )
        if path:
            self.add_subtitle_file(path, "menu")

    def change_subtitle_delay(self, delta_ms: int) -> None:
        self.set_subtitle_delay(self.engine.subtitle_delay_ms + delta_ms)

    def set_subtitle_delay(self, delay_ms: int) -> None:
        before = self.engine.subtitle_delay_ms
        self.engine.set_subtitle_delay(delay_ms)
        self._player.status_message.emit(f"Subtitle delay {delay_ms} ms")
        if delay_ms != before:
            self.viewer_action.emit("subtitle_delay_change", {"from_ms": before, "to_ms": delay_ms})
            self._remember()

    def _track_changed(self, kind: str, before: int, after: int) -> None:
        self.viewer_action.emit(
            "track_change",
            {
                "kind": kind,
                "from_track": None if before < 0 else before,
                "to_track": None if after < 0 else after,
            },
        )
        self._remember()

    def _remember(self) -> None:
        self._choices_settled = True  # the viewer's choice wins over the remembered one
        source = self._player.source
        if source is None:
            return
        engine = self.engine
        audio = _by_id(engine.audio_tracks(), engine.audio_track)
        subtitle = _by_id(engine.subtitle_tracks(), engine.subtitle_track)
        self._memory.remember(
            source,
            TrackChoice(
                audio_language=audio.language if audio else "",
                subtitle_language=SUBTITLES_OFF if subtitle is None else subtitle.language,
                subtitle_delay_ms=engine.subtitle_delay_ms,
            ),
        )

    def _apply_choices(self) -> None:
        """The title's remembered choices, else the preferred languages from Settings."""
        source = self._player.source
        if source is None:
            return
        engine = self.engine
        choice = self._memory.get(source) or TrackChoice()
        audio = _by_language(engine.audio_tracks(), choice.audio_language or self.preferred_audio)
        if audio is not None and audio.id != engine.audio_track:
            engine.set_audio_track(audio.id)
        wanted = choice.subtitle_language or self.preferred_subtitle
        if wanted.strip().casefold() == SUBTITLES_OFF:
            engine.set_subtitle_track(-1)
        else:
            subtitle = _by_language(engine.subtitle_tracks(), wanted)
            if subtitle is not None and subtitle.id != engine.subtitle_track:
                engine.set_subtitle_track(subtitle.id)
        if choice.subtitle_delay_ms:
            engine.set_subtitle_delay(choice.subtitle_delay_ms)

    # -- chapters ----------------------------------------------------------------------------

    @property
    def chapters(self) -> tuple[Chapter, ...]:
        return self._chapters

    def current_chapter(self) -> int:
        """Index of the chapter the playhead is in, -1 without chapters."""
        position = self._player.engine.position_ms
        index = -1
        for i, chapter in enumerate(self._chapters):
            if chapter.start_ms <= position:
                index = i
        return index

    def seek_chapter(self, index: int) -> None:
        if 0 <= index < len(self._chapters):
            chapter = self._chapters[index]
            # Through the player's seek, so that the play session logs it as a chapter seek.
            self._player.seek(chapter.start_ms, "chapter")
            self._player.status_message.emit(f"Chapter {index + 1}: {chapter.title}")

    def next_chapter(self) -> None:
        index = self.current_chapter()
        if index + 1 < len(self._chapters):
            self.seek_chapter(index + 1)

    def previous_chapter(self) -> None:
        index = self.current_chapter()
        if index < 0:
            return
        into = self._player.engine.position_ms - self._chapters[index].start_ms
        self.seek_chapter(index if into > CHAPTER_RESTART_MS or index == 0 else index - 1)

    # -- speed, screenshots, A-B loop ----------------------------------------------------------

    def change_rate(self, delta: float) -> None:
        self.set_rate(self._player.engine.rate + delta)

    def set_rate(self, rate: float) -> None:
        self._player.set_rate(round(max(MIN_RATE, min(MAX_RATE, rate)), 1))

    def take_screenshot(self) -> Path | None:
        source = self._player.source
        if source is None:
            return None
        position = self._player.engine.position_ms
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(source).stem)
        path = self.screenshot_dir / f"{name}-{position // 1000}s-{stamp}.png"
        try:
            self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._player.status_message.emit(f"Cannot save screenshots in {self.screenshot_dir}")
            log.warning("screenshot folder %s: %s", self.screenshot_dir, exc)
            return None
        if not self.engine.take_snapshot(str(path)):
            self._player.status_message.emit("No picture to save")
            return None
        self._player.status_message.emit(f"Screenshot saved to {path}")
        self.viewer_action.emit("screenshot", {"position_ms": position})
        return path

    def toggle_loop(self) -> None:
        """First press: loop start (A); second: loop end (B), looping begins; third: off."""
        position = self._player.engine.position_ms
        if self.loop_a_ms is None:
            self.loop_a_ms = position
            self._player.status_message.emit(f"Loop from {format_ms(position)}: press L at its end")
            self.viewer_action.emit("ab_loop", {"action": "set_a", "a_ms": position})
        elif self.loop_b_ms is None and position > self.loop_a_ms:
            self.loop_b_ms = position
            self._loop_timer.start()
            self._player.status_message.emit(
                f"Looping {format_ms(self.loop_a_ms)}–{format_ms(position)}: press L to stop"
            )
            self.viewer_action.emit(
                "ab_loop", {"action": "set_b", "a_ms": self.loop_a_ms, "b_ms": position}
            )
        else:
            self.clear_loop()
            self._player.status_message.emit("Loop off")

    def clear_loop(self) -> None:
        if self.loop_a_ms is not None:
            self.viewer_action.emit(
                "ab_loop", {"action": "clear", "a_ms": self.loop_a_ms, "b_ms": self.loop_b_ms}
            )
        self.loop_a_ms = self.loop_b_ms = None
        self._loop_timer.stop()

    def _on_loop_timer_timeout(self) -> None:
        if self.loop_a_ms is None or self.loop_b_ms is None or self._player.source is None:
            self._loop_timer.stop()
            return
        if self._player.engine.position_ms >= self.loop_b_ms:
            self._player.seek(self.loop_a_ms, "loop")

    # -- player --------------------------------------------------------------------------------

    def _on_player_opening(self, _source: str, _start_ms: int) -> None:
        self._choices_settled = False
        self._added_subtitle_from = None
        self._chapters = ()
        self.clear_loop()
        self._player.controls.seek_slider.set_marks(())
        self.chapters_changed.emit(())

    def _on_player_engine_event(self, event: EngineEvent) -> None:
        added_from = self._added_subtitle_from
        if (
            added_from is not None
            and event.kind is EngineEventKind.TRACK_ADDED
            and event.value == "text"
        ):
            self._added_subtitle_from = None
            tracks = self.engine.subtitle_tracks()
            if tracks:
                self._track_changed("subtitle", added_from, tracks[-1].id)
        # Tracks come one by one as libVLC opens the media (a subtitle file beside it comes
        # last, and libVLC selects it), and no one event says "all known": the choices and the
        # chapters are applied again on each track and tick until the title has played a while
        # or the viewer chose for themselves.
        if self._choices_settled or self._player.source is None:
            return
        if event.kind is EngineEventKind.TIME_CHANGED and int(event.value or 0) > SETTLE_MS:
            self._choices_settled = True
        # Not before the playhead moves: switching tracks while libVLC still opens the media
        # stalls it at 0 (seen with libVLC 3.0.24 on the feature samples).
        if event.kind in _SETTLING_EVENTS and self._player.engine.position_ms > 0:
            self._apply_choices()
            chapters = self.engine.chapters()
            if chapters != self._chapters:
                self._chapters = chapters
                self._player.controls.seek_slider.set_marks(tuple(c.start_ms for c in chapters))
                self.chapters_changed.emit(chapters)

    # -- menus -------------------------------------------------------------------------------

    def _on_audio_menu_about_to_show(self) -> None:
        menu = self.audio_menu
        menu.clear()
        tracks = self.engine.audio_tracks() if self._player.source else ()
        group = QActionGroup(menu)
        current = self.engine.audio_track if tracks else -1
        for track in tracks:
            action = menu.addAction(track.name)
            action.setCheckable(True)
            action.setChecked(track.id == current)
            group.addAction(action)
            action.triggered.connect(lambda _c=False, t=track: self.set_audio_track(t))
        if not tracks:
            menu.addAction("No audio tracks").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Next Audio Track\tB").triggered.connect(self.cycle_audio)

    def _on_subtitle_menu_about_to_show(self) -> None:
        menu = self.subtitle_menu
        menu.clear()
        playing = self._player.source is not None
        tracks = self.engine.subtitle_tracks() if playing else ()
        current = self.engine.subtitle_track if playing else -1
        group = QActionGroup(menu)
        off = menu.addAction("Off")
        off.setCheckable(True)
        off.setChecked(current < 0)
        group.addAction(off)
        off.triggered.connect(lambda: self.set_subtitle_track(None))
        for track in tracks:
            action = menu.addAction(track.name)
            action.setCheckable(True)
            action.setChecked(track.id == current)
            group.addAction(action)
            action.triggered.connect(lambda _c=False, t=track: self.set_subtitle_track(t))
        menu.addSeparator()
        add = menu.addAction("Add Subtitle File…")
        add.setEnabled(playing)
        add.triggered.connect(self.choose_subtitle_file)
        menu.addAction("Next Subtitle Track\tV").triggered.connect(self.cycle_subtitles)
        delay = self.engine.subtitle_delay_ms if playing else 0
        menu.addAction(f"Delay −{SUBTITLE_DELAY_STEP_MS} ms\tG").triggered.connect(
            lambda: self.change_subtitle_delay(-SUBTITLE_DELAY_STEP_MS)
        )
        menu.addAction(f"Delay +{SUBTITLE_DELAY_STEP_MS} ms\tH").triggered.connect(
            lambda: self.change_subtitle_delay(SUBTITLE_DELAY_STEP_MS)
        )
        reset = menu.addAction(f"Reset Delay ({delay} ms)")
        reset.setEnabled(delay != 0)
        reset.triggered.connect(lambda: self.set_subtitle_delay(0))

    def _on_chapter_menu_about_to_show(self) -> None:
        menu = self.chapter_menu
        menu.clear()
        current = self.current_chapter() if self._player.source else -1
        group = QActionGroup(menu)
        for index, chapter in enumerate(self._chapters):
            action = menu.addAction(f"{index + 1}. {chapter.title}\t{format_ms(chapter.start_ms)}")
            action.setCheckable(True)
            action.setChecked(index == current)
            group.addAction(action)
            action.triggered.connect(lambda _c=False, i=index: self.seek_chapter(i))
        if not self._chapters:
            menu.addAction("No chapters").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Previous Chapter\tPgUp").triggered.connect(self.previous_chapter)
        menu.addAction("Next Chapter\tPgDown").triggered.connect(self.next_chapter)


def _by_id(tracks: tuple[MediaTrack, ...], track_id: int) -> MediaTrack | None:
    return next((t for t in tracks if t.id == track_id), None)


def _by_language(tracks: tuple[MediaTrack, ...], language: str) -> MediaTrack | None:
    """The first track in `language` (a name such as "French" or a code such as "fr")."""
    wanted = language.strip().casefold()
    if not wanted:
        return None
    for track in tracks:
        name = track.language.casefold()
        if name == wanted or (len(wanted) in (2, 3) and name.startswith(wanted)):
            return track
    return None
