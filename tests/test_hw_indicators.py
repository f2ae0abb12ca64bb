"""LEDs, buzzer and button through gpiozero, driven by MockFactory pins."""

from __future__ import annotations

import logging

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from appliance.config import HardwareSection, IndicatorPins
from appliance.errors import DeviceError
from appliance.hw.indicators import Indicators
from appliance.hw.indicators_simulated import SimulatedIndicators

from .waiting import wait_until


@pytest.fixture
def pins():
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = None


def gpio_indicators(**pins) -> Indicators:
    return Indicators.from_config(HardwareSection(indicators="gpio", indicator_pins=IndicatorPins(**pins)))


def test_states_light_one_led_each(pins) -> None:
    indicators = gpio_indicators(ready_led=17, busy_led=27, alert_led=22)
    ready, busy, alert = pins.pin(17), pins.pin(27), pins.pin(22)
    assert (ready.state, busy.state, alert.state) == (True, False, False)

    indicators.set_state("busy")
    assert (ready.state, busy.state, alert.state) == (False, True, False)
    indicators.set_state("alert")
    wait_until(lambda: len(alert.states) >= 3, what="the alert LED to blink on and off")
    assert [s.state for s in alert.states[:3]] == [False, True, False], "the alert LED blinks"
    assert indicators.events == ["state ready", "state busy", "state alert"]
    with pytest.raises(ValueError, match="not one of"):
        indicators.set_state("party")
    indicators.close()
    with pytest.raises(DeviceError, match="closed"):
        indicators.set_state("ready")


def test_watchlist_hit_pattern_on_the_buzzer(pins) -> None:
    indicators = gpio_indicators(buzzer=18, alert_led=22)
    indicators.watchlist_hit(background=False)
    assert [s.state for s in pins.pin(18).states] == [False] + [True, False] * 6
    assert indicators.events[-2:] == ["state alert", "pattern watchlist_hit"]
    with pytest.raises(ValueError, match="buzzer pattern"):
        indicators.pattern("fanfare")
    indicators.close()


def test_supervisor_button_calls_back_and_survives_a_failing_callback(pins, caplog) -> None:
    indicators = gpio_indicators(supervisor_button=23)
    calls = []
    indicators.on_supervisor_call(lambda: 1 / 0)
    indicators.on_supervisor_call(lambda: calls.append("called"))
    button = pins.pin(23)
    with caplog.at_level(logging.ERROR):
        button.drive_low()
        button.drive_high()
        # gpiozero calls back on its own thread.
        wait_until(lambda: calls, what="the supervisor callback")
    assert calls == ["called"] and indicators.supervisor_calls == 1
    assert "supervisor button callback failed" in caplog.text
    indicators.close()


def test_no_pins_is_a_valid_kiosk_without_indicators(pins) -> None:
    indicators = gpio_indicators()
    indicators.watchlist_hit()
    assert indicators.status().detail == "no indicator pins configured"


def test_a_pin_used_twice_is_refused_and_nothing_stays_claimed(pins) -> None:
    with pytest.raises(DeviceError, match="busy led on GPIO17: .*in use"):
        gpio_indicators(ready_led=17, busy_led=17)
    gpio_indicators(ready_led=17).close()  # the failed attempt released GPIO17


def test_simulated_back_end_uses_its_own_mock_pins() -> None:
    indicators = SimulatedIndicators.from_config(HardwareSection())
    indicators.pattern("selftest", background=False)
    assert [s.state for s in indicators.pin("buzzer").states] == [False, True, False]
    indicators.press_supervisor_button()
    wait_until(lambda: indicators.supervisor_calls, what="the button press")
    assert indicators.supervisor_calls == 1
    assert indicators.pin("ready_led").state is True
    indicators.close()
