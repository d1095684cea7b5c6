"""A fake of Android's window insets as the app's activity sees them through pyjnius
(android.view.WindowInsets and its Type masks, the decor view, the content view), copying the
platform's documented contract, for the safe-area padding in mobile_app/pocketapp/safearea.py.
`Phone(...).jnius()` is the `jnius` module of one such phone; install it with
`monkeypatch.setitem(sys.modules, "jnius", phone.jnius())`."""

from __future__ import annotations

from dataclasses import dataclass, field

from phone_fakes import FakeJnius, JavaException

# --- Android's window insets (android.view.WindowInsets, API 23+) ----------------------------

# WindowInsets.Type's bits (android/view/WindowInsets.java: FIRST = 1 << 0 ... IME = 1 << 3,
# DISPLAY_CUTOUT = 1 << 7)
STATUS_BARS, NAVIGATION_BARS, CAPTION_BAR, IME, DISPLAY_CUTOUT = 1, 2, 4, 8, 128


class InsetsType:
    """android.view.WindowInsets.Type (API 30): bit masks, systemBars() = status | nav | caption."""

    @staticmethod
    def systemBars() -> int:
        return STATUS_BARS | NAVIGATION_BARS | CAPTION_BAR

    @staticmethod
    def displayCutout() -> int:
        return DISPLAY_CUTOUT

    @staticmethod
    def ime() -> int:
        return IME


@dataclass
class Sides:
    """Pixels at each side: android.graphics.Insets (public final fields) and
    android.graphics.Rect (public fields, filled in by View.getGlobalVisibleRect)."""
    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0


GraphicsInsets = Rect = Sides


@dataclass
class DisplayCutout:
    top: int
    bottom: int = 0

    def getSafeInsetTop(self) -> int:
        return self.top

    def getSafeInsetBottom(self) -> int:
        return self.bottom


@dataclass
class WindowInsets:
    """Per type, the pixels it covers at each side; getInsets(mask) is their union, the largest
    inset per side of the types in the mask (WindowInsets.getInsets's contract). The per-side
    getters before API 30 give the system bars alone."""
    by_type: dict[int, GraphicsInsets]
    sdk: int

    def getInsets(self, mask: int) -> GraphicsInsets:
        if self.sdk < 30:
            raise JavaException("java.lang.NoSuchMethodError: getInsets")
        return self.union(mask)

    def union(self, mask: int) -> GraphicsInsets:
        chosen = [insets for kind, insets in self.by_type.items() if kind & mask]
        return GraphicsInsets(*(max((getattr(i, side) for i in chosen), default=0)
                                for side in ("left", "top", "right", "bottom")))

    def getSystemWindowInsetTop(self) -> int:
        return self.union(STATUS_BARS | NAVIGATION_BARS).top

    def getSystemWindowInsetBottom(self) -> int:
        return self.union(STATUS_BARS | NAVIGATION_BARS).bottom

    def getDisplayCutout(self):
        if self.sdk < 28:
            raise JavaException("java.lang.NoSuchMethodError: getDisplayCutout")
        cutout = self.by_type.get(DISPLAY_CUTOUT)
        return None if cutout is None else DisplayCutout(cutout.top, cutout.bottom)


CONTENT_ID = 16908290  # android.R.id.content


@dataclass
class View:
    top: int
    bottom: int

    def getGlobalVisibleRect(self, rect: Rect) -> bool:
        rect.top, rect.bottom = self.top, self.bottom
        return True


@dataclass
class DecorView:
    height: int
    content: View
    insets: WindowInsets | None  # None: not attached to a window yet

    def getRootWindowInsets(self):
        return self.insets

    def getHeight(self) -> int:
        return self.height

    def findViewById(self, identifier: int):
        return self.content if identifier == CONTENT_ID else None


@dataclass
class Phone:
    """An Android phone's screen as the app's activity sees it (pixels)."""
    sdk: int
    height: int
    density: float  # DisplayMetrics.scaledDensity
    content_top: int  # where the app's content view starts and ends in the window
    content_bottom: int
    insets: dict[int, GraphicsInsets] | None = field(default_factory=dict)

    def jnius(self) -> FakeJnius:
        insets = None if self.insets is None else WindowInsets(self.insets, self.sdk)
        decor = DecorView(self.height, View(self.content_top, self.content_bottom), insets)
        metrics = type("DisplayMetrics", (), {"scaledDensity": self.density})()
        resources = type("Resources", (), {"getDisplayMetrics": lambda _self: metrics})()
        window = type("Window", (), {"getDecorView": lambda _self: decor})()
        activity = type("PythonActivity", (), {"getWindow": lambda _self: window,
                                               "getResources": lambda _self: resources})()
        return FakeJnius(**{
            "org.kivy.android.PythonActivity": type("PythonActivityClass", (),
                                                    {"mActivity": activity}),
            "android.os.Build$VERSION": type("VERSION", (), {"SDK_INT": self.sdk}),
            "android.view.WindowInsets$Type": InsetsType,
            "android.graphics.Rect": Rect,
            "android.R$id": type("id", (), {"content": CONTENT_ID}),
        })
