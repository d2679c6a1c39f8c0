"""Uploaded datasets for the ``train`` objective: CSV in the request body, versioned by name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth.access import ADMINS, WORKER_READERS
from api.body import OWN_LIMIT, read_limited
from api.datasets import service as dataset_service
from api.deps import ReadSessionDep
from api.openapi import responses
from api.params import DatasetRefPath, Offset
from caviar.bounds import DATASET_NAME_PATTERN
from caviar.schemas import DatasetPublic, DatasetsPublic

router = APIRouter(prefix="/datasets", tags=["datasets"])


@router.post(
    "",
    dependencies=[ADMINS],
    summary="Upload a CSV dataset",
    max_body_size=OWN_LIMIT,  # read_limited: CAVIAR_MAX_UPLOAD_BYTES
    response_model=DatasetPublic,
    status_code=status.HTTP_201_CREATED,
    responses=responses(
        413,
        422,
        cross_field="the CSV parses: a header, at least 10 rows, numeric features, 2+ classes",
        extra={
            200: {"description": "The same content as the latest version", "model": DatasetPublic}
        },
    ),
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def upload_dataset(
    request: Request,
    name: Annotated[
        str, Query(pattern=DATASET_NAME_PATTERN, max_length=128, description="the dataset's name")
    ],
) -> Response:
    """Upload a CSV file as the body (header row; numeric features; a `label` column, or the
    last one). The same content as the latest version answers 200 with that version. A new
    version starts a re-test round in every study on this dataset with ``on_new_data``."""
    settings = request.app.state.settings
    raw = await read_limited(request, settings.max_upload_bytes, "the dataset")
    db = request.app.state.db

    def store() -> tuple[DatasetPublic, bool]:
        with db.session() as session:
            dataset, created = dataset_service.upload(session, name, raw, settings.max_upload_bytes)
            answer = dataset_service.public(dataset)
            retests = dataset_service.new_version(session, name) if created else []
            session.commit()
        request.app.state.dispatcher.dispatch(retests)
        return answer, created

    body, created = await run_in_threadpool(store)
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if created else 200)


@router.get(
    "",
    dependencies=[WORKER_READERS],
    summary="List datasets",
    response_model=DatasetsPublic,
    responses=responses(422),
)
def list_datasets(
    session: ReadSessionDep,
    offset: Offset = 0,
    limit: int = Query(default=100, ge=1, le=1000),
) -> DatasetsPublic:
    """Every version, by name, newest version first."""
    rows, count = dataset_service.list_all(session, offset, limit)
    return DatasetsPublic(data=[dataset_service.public(d) for d in rows], count=count)


@router.get(
    "/{ref}",
    dependencies=[WORKER_READERS],
    summary="Show a dataset",
    response_model=DatasetPublic,
    responses=responses(404, 422),
)
def get_dataset(ref: DatasetRefPath, session: ReadSessionDep) -> DatasetPublic:
    """``name`` (the latest version) or ``name@version``."""
    return dataset_service.public(dataset_service.resolve(session, ref))


@router.get(
    "/{ref}/content",
    dependencies=[WORKER_READERS],
    summary="Download a dataset's CSV",
    response_class=Response,
    responses=responses(
        404,
        422,
        extra={
            200: {
                "description": "The CSV as uploaded",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
    ),
)
def dataset_content(ref: DatasetRefPath, session: ReadSessionDep) -> Response:
    """The bytes as uploaded; ``ETag`` is their SHA-256."""
    d = dataset_service.resolve(session, ref)
    return Response(
        d.content,
        media_type="text/csv",
        headers={"ETag": f'"{d.sha256}"', "X-Caviar-Dataset": f"{d.name}@{d.version}"},
    )
