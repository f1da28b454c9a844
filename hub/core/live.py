"""What the dashboards hear of each engine step: the live stream's messages (hub/core/fanout.py).

The hub (hub/core/runtime.py) hands every step here once it is committed (or kept in memory
while storage fails): the messages carry the JSON the API shows (hub/core/views.py). With no
dashboard connected a step costs a counter increment and the zones' bookkeeping; the system
snapshot is never built per step (hub/core/fanout.py coalesces it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from alarms.model import (
    ActivationAdded,
    AnomalyCleared,
    AnomalyRaised,
    IncidentChanged,
    IncidentOpened,
    LogEvent,
    ModeChanged,
    Output,
    Step,
    WalkTestActivation,
    Zone,
)
from hub.core import views
from hub.core.fanout import Fanout


class LiveHub(views.HubView, Protocol):
    @property
    def fanout(self) -> Fanout: ...


class LiveMessages:
    def __init__(self, hub: LiveHub) -> None:
        self._hub = hub
        # `zone` messages: the zones dict last compared, and the zone JSON last sent per zone.
        self._zones_compared: Mapping[str, Zone] = {}
        self._zones_sent: dict[str, dict[str, Any]] = {}
        # `output` messages, the same way: the outputs dict last compared, the JSON last sent.
        self._outputs_compared: Mapping[str, Output] = {}
        self._outputs_sent: dict[str, dict[str, Any]] = {}

    def step(self, step: Step) -> None:
        hub, fanout = self._hub, self._hub.fanout
        # The snapshot is built later, once, for whoever is due one; a mode change at once.
        fanout.system_changed(milestone=any(isinstance(e, ModeChanged) for e in step.effects))
        if not fanout.count:  # nobody watching: only the zones' and outputs' bookkeeping
            self.zones(step.state.zones)
            self.outputs(step.state.outputs)
            return
        for effect in step.effects:
            match effect:
                case ModeChanged():
                    pass
                case IncidentOpened(incident=inc) | ActivationAdded(incident=inc) | IncidentChanged(incident=inc):
                    if inc.kind == "duress":
                        continue  # for the centre only
                    fanout.publish({"type": "incident", "incident": views.incident_json(hub, inc)})
                case AnomalyRaised(anomaly=ano) | AnomalyCleared(anomaly=ano):
                    fanout.publish({"type": "anomaly", "anomaly": views.anomaly_json(hub, ano)})
                case LogEvent():
                    fanout.publish({"type": "event", "kind": effect.kind, "zone": effect.zone, "by": effect.by})
                case WalkTestActivation():
                    fanout.publish(views.walk_test_activation_json(hub, effect))
        self.zones(step.state.zones)
        self.outputs(step.state.outputs)

    def zones(self, zones: Mapping[str, Zone], only: Sequence[str] | None = None) -> None:
        """A `zone` message for each zone whose JSON changed since the last one sent.

        The engine copies the zones dict but keeps the Zone objects it did not touch, so a step
        that changed no zone (a tick, an arming) costs one identity check per zone. Removed zones
        are told by their `zone_removed` event. With nobody watching nothing is built, and the
        record of what was sent is dropped: a dashboard reads the zones when it connects.
        """
        hub, fanout = self._hub, self._hub.fanout
        if not fanout.count:
            self._zones_compared, self._zones_sent = zones, {}
            return
        before = self._zones_compared
        for zone_id in only if only is not None else list(zones):
            zone = zones.get(zone_id)
            if zone is None or zone_id not in hub.state.zones or (only is None and before.get(zone_id) is zone):
                continue
            shown = views.zone_json(hub, zone_id)
            if self._zones_sent.get(zone_id) != shown:
                self._zones_sent[zone_id] = shown
                fanout.publish({"type": "zone", "zone": shown})
        if only is None:
            for gone in set(self._zones_sent) - set(zones):
                del self._zones_sent[gone]
            self._zones_compared = zones  # never changed in place: each engine step makes a new dict

    def outputs(self, outputs: Mapping[str, Output]) -> None:
        """An `output` message for each output whose JSON changed since the last one sent (a siren
        starts or stops sounding, a valve closes, a device goes offline), as `zones` does for
        zones. A removed output is told by its `output_removed` event."""
        hub, fanout = self._hub, self._hub.fanout
        if not fanout.count:
            self._outputs_compared, self._outputs_sent = outputs, {}
            return
        before = self._outputs_compared
        for output_id, output in outputs.items():
            if output_id not in hub.state.outputs or before.get(output_id) is output:
                continue
            shown = views.output_json(hub, output_id)
            if self._outputs_sent.get(output_id) != shown:
                self._outputs_sent[output_id] = shown
                fanout.publish({"type": "output", "output": shown})
        for gone in set(self._outputs_sent) - set(outputs):
            del self._outputs_sent[gone]
        self._outputs_compared = outputs  # never changed in place: each engine step makes a new dict

    def notification(self, row: dict[str, Any]) -> None:
        """A delivery result; the centre's duress reports never go there."""
        if not self._hub.fanout.count:
            return
        incident = self._hub.state.incidents.get(row.get("incident") or "")
        if row.get("template") == "centre.duress" or (incident is not None and incident.kind == "duress"):
            return
        self._hub.fanout.publish({"type": "notification", "notification": views.notification_json(self._hub, row)})
