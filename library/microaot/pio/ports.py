"""Which runtime port and kernel target a standard PlatformIO board gets (microaot as a library).

On microaot's own boards (``platform/boards/*.json``) the board JSON names the port and the target
(``build.microaot``). On any other PlatformIO platform (native, ststm32, raspberrypi, ...) they are
picked from the board manifest and the framework:

======================  ==============================================================
port                    used for
======================  ==============================================================
``host``                ``platform = native`` (stdio link, ``clock_gettime`` timer)
``stm32``               ``build.mcu`` = stm32f4* (USART2 registers, DWT or SysTick timer);
                        without a framework also its startup and a linker script
``arduino``             ``framework = arduino`` on any MCU (``Serial``, DWT or ``micros()``)
``rp2040``              ``build.mcu`` = rp2040 (UART0, the 1 MHz timer)
``user``                anything else: the application defines the required hooks
                        ``uaot_platform_write``, ``uaot_platform_timer_read``,
                        ``uaot_platform_timer_unit`` (microaot/platform.h)
======================  ==============================================================

Kernel target from ``build.cpu``: cortex-m4 / cortex-m33 (DSP) -> ``cortex-m4``, cortex-m7 ->
``cortex-m7``, cortex-m55 / m85 (Helium) -> ``cortex-m55``, anything else (M0+, M3, host) -> ``generic``.
``custom_microaot_port`` and ``custom_microaot_target`` override; a choice that does not fit the board is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from microaot.errors import BuildError

USER_PORT = "user"


@dataclass(frozen=True)
class PortChoice:
    port: str
    target: str
    valid_ports: tuple[str, ...]
    valid_targets: tuple[str, ...]


def valid_ports(platform: str, mcu: str, frameworks: list[str]) -> tuple[str, ...]:
    """Ports that fit a board, best first."""
    mcu = mcu.lower()
    out: list[str] = []
    if "arduino" in frameworks:
        out.append("arduino")
    if platform == "native":
        out.append("host")
    elif mcu.startswith("stm32f4"):
        out.append("stm32")
    elif mcu.startswith("rp2040"):
        out.append("rp2040")
    out.append(USER_PORT)
    return tuple(out)


def valid_targets(platform: str, cpu: str) -> tuple[str, ...]:
    """Kernel targets the board's CPU can run, best first."""
    cpu = cpu.lower()
    if platform == "native":
        return ("generic",)
    if cpu.startswith("cortex-m7"):
        return ("cortex-m7", "cortex-m4", "generic")
    if cpu.startswith(("cortex-m55", "cortex-m85")):
        return ("cortex-m55", "cortex-m4", "generic")
    if cpu.startswith(("cortex-m4", "cortex-m33", "cortex-m35p")):
        return ("cortex-m4", "generic")
    return ("generic",)


def choose(
    board_id: str,
    platform: str,
    mcu: str,
    cpu: str,
    frameworks: list[str],
    *,
    port: str = "",
    target: str = "",
) -> PortChoice:
    """The port and target for a standard board; BuildError naming the valid choices on a misfit."""
    ports = valid_ports(platform, mcu, frameworks)
    targets = valid_targets(platform, cpu)
    what = f"board {board_id} (platform {platform}, mcu {mcu or '?'}, cpu {cpu or '?'}"
    what += f", framework {', '.join(frameworks)})" if frameworks else ", no framework)"
    if port and port not in ports:
        raise BuildError(
            f"custom_microaot_port = {port} does not fit {what}; valid choices: {', '.join(ports)} "
            f"(set custom_microaot_port to one of them, or remove it)"
        )
    if target and target not in targets:
        raise BuildError(
            f"custom_microaot_target = {target} does not fit {what}; valid choices: {', '.join(targets)} "
            f"(set custom_microaot_target to one of them, or remove it)"
        )
    return PortChoice(port or ports[0], target or targets[0], ports, targets)


def stm32f4_flash_wait_states(f_cpu: int) -> int:
    """FLASH_ACR.LATENCY for an STM32F4 at 2.7..3.6 V: one wait state per 30 MHz (RM0090/RM0390)."""
    if f_cpu <= 0:
        return 5
    return max(0, min(7, (f_cpu - 1) // 30_000_000))
