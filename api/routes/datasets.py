"""Uploaded datasets (the ``train`` objective's user data)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/datasets", tags=["datasets"])
