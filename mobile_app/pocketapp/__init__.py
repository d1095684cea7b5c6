"""The app's logic, free of widgets: the bundle and its integrity check, the form described by
the bundle's schema, input validation, and one TFLite predictor per platform.

Nothing here imports Kivy, so the tests and the benchmark run it without a window; nothing here
imports pocketml, train or export, which are not on the phone."""
