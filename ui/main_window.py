"""The main window: a home page and the player page in one stack, with the menus, drag and
drop, fullscreen and the recent-files list.

Owns navigation between pages and the window-level actions; playback itself belongs to
`ui.player_view.PlayerView`, the home page to whatever widget is given as `home`.
GUI thread only.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMenu,
    QStackedWidget,
    QWidget,
)

from player.paths import config_dir, state_dir
from player.recents import RecentSources
from player.sources import display_name, is_url
from player.thumbnail_cache import ThumbnailCache
from player.track_memory import TrackMemory
from ui.player_view import EngineFactory, PlayerView
from ui.watch_controls import WatchControls, is_subtitle_file

log = logging.getLogger("reelscope.ui.window")

VIDEO_FILTER = (
    "Videos (*.mp4 *.m4v *.mkv *.webm *.mov *.avi *.ogv *.ts *.m2ts *.mpg *.mpeg *.flv *.wmv "
    "*.3gp *.m3u8);;All files (*)"
)


class MainWindow(QMainWindow):
    """Home and player pages, menus, drag and drop, fullscreen, recent files."""

    source_opened = Signal(str)
    home_shown = Signal()
    settings_requested = Signal()
    privacy_requested = Signal()  # "What Reelscope knows about you"
    opened_together = Signal(list)  # sources dropped at once: they play one after the other

    def __init__(
        self,
        engine_factory: EngineFactory,
        home: QWidget,
        *,
        recents: RecentSources | None = None,
        track_memory: TrackMemory | None = None,
        thumbnails: ThumbnailCache | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Reelscope")
        self.setAcceptDrops(True)
        self.resize(1100, 700)
        self.recents = recents or RecentSources(config_dir() / "recent.json")
        self.home = home
        self.player = PlayerView(engine_factory, thumbnails=thumbnails)
        self.player.fullscreen_requested.connect(self.toggle_fullscreen)
        self.player.back_requested.connect(self.show_home)
        self.player.status_message.connect(self._on_player_status_message)
        self.pages = QStackedWidget()
        self.pages.addWidget(home)
        self.pages.addWidget(self.player)
        self.setCentralWidget(self.pages)
        self.watch = WatchControls(
            self.player,
            track_memory or TrackMemory(state_dir() / "track-choices.json"),
            parent=self,
        )
        self._build_menus()
        for menu in (self.watch.audio_menu, self.watch.subtitle_menu, self.watch.chapter_menu):
            self.menuBar().addMenu(menu)
        self.statusBar().showMessage("Open a video with Ctrl+O, or drop one here.", 5000)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.player)

    # -- menus -----------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._add_action(file_menu, "&Open File…", QKeySequence.StandardKey.Open, self.open_file)
        self._add_action(file_menu, "Open &URL…", QKeySequence("Ctrl+L"), self.open_url)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        file_menu.addSeparator()
        self._add_action(file_menu, "&Home", QKeySequence("Alt+Home"), self.show_home)
        file_menu.addSeparator()
        self._add_action(
            file_menu, "&Settings…", QKeySequence("Ctrl+,"), self.settings_requested.emit
        )
        self._add_action(
            file_menu, "What Reelscope &Knows About You…", None, self.privacy_requested.emit
        )
        file_menu.addSeparator()
        self._add_action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)

        playback = self.menuBar().addMenu("&Playback")
        self._add_action(playback, "Play/Pause\tSpace", None, self.player.toggle_pause)
        self._add_action(
            playback, "Back 10 s\tLeft", None, lambda: self.player.seek_relative(-10_000)
        )
        self._add_action(
            playback, "Forward 10 s\tRight", None, lambda: self.player.seek_relative(10_000)
        )
        self._add_action(playback, "Volume Up\tUp", None, lambda: self.player.change_volume(5))
        self._add_action(playback, "Volume Down\tDown", None, lambda: self.player.change_volume(-5))
        self._add_action(
            playback, "Mute\tM", None, lambda: self.player.set_muted(not self.player.engine.muted)
        )

        playback.addSeparator()
        self._add_action(playback, "Slower (−0.1×)\t[", None, lambda: self.watch.change_rate(-0.1))
        self._add_action(playback, "Faster (+0.1×)\t]", None, lambda: self.watch.change_rate(0.1))
        self._add_action(playback, "Normal Speed\t=", None, lambda: self.watch.set_rate(1.0))
        self._add_action(playback, "A-B Loop\tL", None, self.watch.toggle_loop)

        view = self.menuBar().addMenu("&View")
        self._add_action(view, "&Fullscreen\tF", None, self.toggle_fullscreen)
        self._add_action(view, "Take &Screenshot\tS", None, self.watch.take_screenshot)

    def _add_action(
        self,
        menu: QMenu,
        text: str,
        shortcut: QKeySequence | QKeySequence.StandardKey | None,
        slot: object,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _on_recent_menu_about_to_show(self) -> None:
        self.recent_menu.clear()
        items = self.recents.items
        for source in items:
            action = self.recent_menu.addAction(display_name(source))
            action.setToolTip(source)
            action.triggered.connect(lambda _checked=False, s=source: self.play(s))
        if not items:
            self.recent_menu.addAction("No recent files").setEnabled(False)
            return
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear List").triggered.connect(self.recents.clear)

    # -- navigation ------------------------------------------------------------------------

    def play(self, source: str, *, start_ms: int = 0) -> None:
        """Show the player page and play `source` (a path or URL)."""
        self.pages.setCurrentWidget(self.player)
        self.player.setFocus()
        self.setWindowTitle(f"{display_name(source)} — Reelscope")
        if self.player.open(source, start_ms=start_ms):
            self.recents.add(source)
        self.source_opened.emit(source)

    def set_home(self, home: QWidget) -> None:
        """Put `home` in place of the current home page (the app builds the real one once the
        window is up, so that the window shows sooner)."""
        showing = self.pages.currentWidget() is self.home
        old, self.home = self.home, home
        self.pages.insertWidget(0, home)
        self.pages.removeWidget(old)
        old.deleteLater()
        if showing:
            self.pages.setCurrentWidget(home)
            home.setFocus()

    def show_home(self) -> None:
        if self.isFullScreen():
            self.toggle_fullscreen()
        self.setWindowTitle("Reelscope")
        self.pages.setCurrentWidget(self.home)
        self.home.setFocus()
        # First: the play session ends at the moment the viewer left, not when libVLC stops.
        self.home_shown.emit()
        self.player.stop()

    def open_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Open Video", "", VIDEO_FILTER)
        if path:
            self.play(path)

    def open_url(self) -> None:
        url, accepted = QInputDialog.getText(
            self, "Open URL", "Address of a video or stream (http, https, rtsp, HLS .m3u8):"
        )
        url = url.strip()
        if not accepted or not url:
            return
        if not is_url(url):
            self.statusBar().showMessage(f"“{url}” is not an address (e.g. https://…).", 6000)
            return
        self.play(url)

    def toggle_fullscreen(self) -> None:
        fullscreen = not self.isFullScreen()
        if fullscreen:
            self.menuBar().hide()
            self.statusBar().hide()
            self.showFullScreen()
        else:
            self.showNormal()
            self.menuBar().show()
            self.statusBar().show()
        self.player.set_fullscreen(fullscreen)

    def _on_player_status_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 3000)

    # -- drag and drop -----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        urls: list[QUrl] = event.mimeData().urls()
        if not urls:
            return
        first = urls[0]
        if first.isLocalFile() and is_subtitle_file(first.toLocalFile()):
            # A subtitle file dropped on a playing title is added to it, not played.
            self.watch.add_subtitle_file(first.toLocalFile(), "drop")
            event.acceptProposedAction()
            return
        sources = [url.toLocalFile() if url.isLocalFile() else url.toString() for url in urls]
        self.opened_together.emit(sources)
        self.play(sources[0])
        event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        QApplication.instance().removeEventFilter(self.player)  # type: ignore[union-attr]
        self.player.shutdown()
        super().closeEvent(event)
