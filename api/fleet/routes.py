"""``/api/fleet``: the workers, the queue depth and recent requeues, for the fleet page."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.auth.access import READERS
from api.deps import ReadSessionDep
from api.fleet import service as fleet_service
from caviar.fleet_schemas import FleetPublic

router = APIRouter(prefix="/fleet", tags=["fleet"], dependencies=[READERS])


@router.get("", summary="The worker fleet", response_model=FleetPublic)
def fleet(request: Request, session: ReadSessionDep) -> FleetPublic:
    """Each worker (host, current trial, last heard, trials finished), the queue depth, and the
    recent requeues with their reasons."""
    dispatcher = request.app.state.dispatcher
    return FleetPublic(
        workers=fleet_service.workers(session),
        queue=getattr(dispatcher.sender, "queue", None),
        queue_depth=dispatcher.queue_depth(),
        requeues=fleet_service.recent_requeues(session),
    )
