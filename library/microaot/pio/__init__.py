"""The PlatformIO integration: the build-time shim (``build``), project writing and building
(``project``), the PlatformIO core set-up (``setup``), the ``pio test`` runner (``testing``) and the
``tune`` target (``target``)."""
