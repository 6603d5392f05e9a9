"""Settings: collector URL and write key (with "Test connection"), whether to share usage data,
library folders, network caching and hardware decoding, and where the log file is. Problems are
shown beside their field and nothing is saved until every field is valid
(`player.settings.validate`).

The dialog saves through the `SettingsStore` it is given and reports what changed
(`settings_saved`, `consent_changed`); whoever opened it applies the changes to the telemetry
client and the library. "Test connection" runs `telemetry.client.server_data.check_connection` (or
the check given) on a worker thread through `BackgroundCall`. GUI thread only.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from player.settings import MAX_NETWORK_CACHING_MS, Settings, SettingsStore, validate
from telemetry.client.server_data import ConnectionCheck, check_connection
from ui.background import BackgroundCall
from ui.log_file import current_log_file

ConnectionChecker = Callable[[str, str], ConnectionCheck]


def _problem_label() -> QLabel:
    label = QLabel()
    label.setObjectName("FieldProblem")
    label.setStyleSheet("color: #e0605a;")
    label.setWordWrap(True)
    label.hide()
    return label


class SettingsDialog(QDialog):
    """Edits `settings` (those in effect); Save validates, persists in `store` and reports."""

    settings_saved = Signal(object)  # Settings
    consent_changed = Signal(bool)

    def __init__(
        self,
        store: SettingsStore,
        settings: Settings,
        consent: bool,
        *,
        check: ConnectionChecker = check_connection,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("SettingsDialog")
        self.setWindowTitle("Settings")
        self._store = store
        self._consent = consent
        self._check = check
        self._build_fields(settings, consent)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self._form())
        layout.addWidget(self.buttons)
        self._test_call = BackgroundCall(self)
        self._test_call.finished.connect(self._on_test_call_finished)

    def _build_fields(self, settings: Settings, consent: bool) -> None:
        self.collector_url = QLineEdit(settings.collector_url)
        self.collector_url.setPlaceholderText("https://collector.example")
        self.write_key = QLineEdit(settings.write_key)
        self.write_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self._on_test_button_clicked)
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.share = QCheckBox("Share usage data with the collector")
        self.share.setChecked(consent)
        self.share_note = QLabel(
            "Turning this off stops recording at once and deletes the events waiting on "
            "this device."
        )
        self.share_note.setWordWrap(True)
        self.folders = QListWidget()
        self.folders.addItems(list(settings.library_folders))
        self.add_folder = QPushButton("Add…")
        self.add_folder.clicked.connect(self._on_add_folder_clicked)
        self.remove_folder = QPushButton("Remove")
        self.remove_folder.clicked.connect(self._on_remove_folder_clicked)
        self.network_caching = QSpinBox()
        # The spin box allows one step beyond each end so that validation, not the widget,
        # explains the limits.
        self.network_caching.setRange(-1, MAX_NETWORK_CACHING_MS + 1)
        self.network_caching.setSingleStep(100)
        self.network_caching.setSuffix(" ms")
        self.network_caching.setValue(settings.network_caching_ms)
        self.hardware_decoding = QCheckBox("Use hardware decoding when available")
        self.hardware_decoding.setChecked(settings.hardware_decoding)
        self.audio_language = QLineEdit(settings.audio_language)
        self.audio_language.setPlaceholderText("e.g. English or en (empty: the file's default)")
        self.subtitle_language = QLineEdit(settings.subtitle_language)
        self.subtitle_language.setPlaceholderText("e.g. French or fr, or off")
        self.autoplay = QCheckBox("Play the next title when one ends (up next)")
        self.autoplay.setChecked(settings.autoplay)
        log_file = current_log_file()
        self.log_file = QLabel(str(log_file) if log_file else "none (logging to the terminal only)")
        self.log_file.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_file.setWordWrap(True)
        self.problems = {
            name: _problem_label()
            for name in ("collector_url", "write_key", "library_folders", "network_caching_ms")
        }

    def _form(self) -> QFormLayout:
        form = QFormLayout()
        form.addRow("Collector URL:", self.collector_url)
        form.addRow("", self.problems["collector_url"])
        form.addRow("Write key:", self.write_key)
        form.addRow("", self.problems["write_key"])
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        form.addRow("", test_row)
        form.addRow("", self.share)
        form.addRow("", self.share_note)
        folder_buttons = QVBoxLayout()
        folder_buttons.addWidget(self.add_folder)
        folder_buttons.addWidget(self.remove_folder)
        folder_buttons.addStretch(1)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folders, 1)
        folder_row.addLayout(folder_buttons)
        form.addRow("Library folders:", folder_row)
        form.addRow("", self.problems["library_folders"])
        form.addRow("Network caching:", self.network_caching)
        form.addRow("", self.problems["network_caching_ms"])
        form.addRow("", self.hardware_decoding)
        form.addRow("", QLabel("Network caching and hardware decoding apply from the next start."))
        form.addRow("Audio language:", self.audio_language)
        form.addRow("Subtitle language:", self.subtitle_language)
        form.addRow("", self.autoplay)
        form.addRow("Log file:", self.log_file)
        return form

    def current(self) -> Settings:
        """The settings as the fields show them now."""
        return Settings(
            collector_url=self.collector_url.text().strip(),
            write_key=self.write_key.text(),
            library_folders=tuple(
                self.folders.item(row).text() for row in range(self.folders.count())
            ),
            network_caching_ms=self.network_caching.value(),
            hardware_decoding=self.hardware_decoding.isChecked(),
            audio_language=self.audio_language.text().strip(),
            subtitle_language=self.subtitle_language.text().strip(),
            autoplay=self.autoplay.isChecked(),
        )

    def show_problems(self, problems: dict[str, str]) -> None:
        for name, label in self.problems.items():
            label.setText(problems.get(name, ""))
            label.setVisible(name in problems)

    def save(self) -> bool:
        """Validate, persist and report; on problems, show them and stay open."""
        settings = self.current()
        problems = validate(settings)
        self.show_problems(problems)
        if problems:
            return False
        self._store.save(settings)
        self.settings_saved.emit(settings)
        if self.share.isChecked() != self._consent:
            self._consent = self.share.isChecked()
            self.consent_changed.emit(self._consent)
        self.accept()
        return True

    def add_folder_path(self, path: str) -> None:
        existing = {self.folders.item(row).text() for row in range(self.folders.count())}
        if path and path not in existing:
            self.folders.addItem(path)

    def _on_add_folder_clicked(self) -> None:
        self.add_folder_path(QFileDialog.getExistingDirectory(self, "Add a library folder"))

    def _on_remove_folder_clicked(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))

    def test_connection(self) -> None:
        """Check the URL and key as typed (not as saved), on a worker thread."""
        settings = self.current()
        problems = {
            name: text
            for name, text in validate(settings).items()
            if name in ("collector_url", "write_key")
        }
        self.show_problems(problems)
        if problems or self._test_call.running:
            return
        self.test_button.setEnabled(False)
        self.test_result.setText("Testing…")
        url, key, check = settings.collector_url, settings.write_key, self._check
        self._test_call.start(lambda: check(url, key))

    def _on_test_button_clicked(self) -> None:
        self.test_connection()

    def _on_test_call_finished(self, result: object) -> None:
        self.test_button.setEnabled(True)
        if isinstance(result, ConnectionCheck):
            mark = "✔" if result.ok else "✖"
            self.test_result.setText(f"{mark} {result.message}")
        else:
            self.test_result.setText(f"✖ The test failed: {result}")
