"""The framework floor for the write benchmark: a FastAPI endpoint that does one Core insert
per request on the same engine settings as the service (WAL + synchronous=FULL on SQLite)."""

import os
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import BaseModel

from app.config import Settings
from app.db import make_engine

metadata = sa.MetaData()
bare = sa.Table(
    "bench_bare",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("voucher_no", sa.String(64), nullable=False, unique=True),
)
engine = make_engine(Settings(database_url=os.environ.get("DATABASE_URL", "sqlite://")))
app = FastAPI()


class BarePayment(BaseModel):
    amount: str
    voucher_no: str


@app.post("/noop", status_code=201)
def no_database(body: BarePayment) -> dict[str, Any]:
    """The framework alone: parse, validate, answer; no database."""
    return {"id": None}


@app.post("/bare", status_code=201)
def insert_one(body: BarePayment) -> dict[str, Any]:
    with engine.begin() as conn:
        new_id = conn.execute(
            bare.insert().values(
                amount=int(body.amount.replace(".", "")), voucher_no=body.voucher_no
            )
        ).inserted_primary_key
    return {"id": new_id[0] if new_id else None}
