"""microaot dev-platform: no downloadable packages; toolchains come from the system (apt)."""

from platformio.public import PlatformBase


class MicroaotPlatform(PlatformBase):
    def is_embedded(self):
        # the host board builds a native program; everything else is a firmware image
        return True

    def configure_default_packages(self, variables, targets):
        return super().configure_default_packages(variables, targets)
