"""The ballot log, latest ballot per voter, ciphertexts, challenges and signed heads.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    log_state = op.create_table(
        "log_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("frontier", sa.LargeBinary, nullable=False),
        sa.Column("last_received", sa.BigInteger, nullable=False),
        sa.Column("closed_at", sa.BigInteger, nullable=True),
        sa.Column("final_head", sa.LargeBinary, nullable=True),
    )
    op.bulk_insert(log_state, [{"id": 1, "size": 0, "frontier": b"", "last_received": 0}])
    op.create_table(
        "entries",
        sa.Column("log_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ballot_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("voter", sa.String(64), nullable=False, index=True),
        sa.Column("district", sa.String(200), nullable=False),
        sa.Column("received", sa.BigInteger, nullable=False),
        sa.Column("ballot", sa.LargeBinary, nullable=False),
        sa.Column("receipt", sa.LargeBinary, nullable=False),
        sa.Column("fetches", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "latest",
        sa.Column("voter", sa.String(64), primary_key=True),
        sa.Column("log_index", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ciphertexts",
        sa.Column("digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("voter", sa.String(64), nullable=False),
    )
    op.create_table(
        "challenges",
        sa.Column("challenge", sa.LargeBinary(32), primary_key=True),
        sa.Column("expires", sa.BigInteger, nullable=False, index=True),
        sa.Column("ballot_hash", sa.LargeBinary(32), nullable=True),
    )
    op.create_table(
        "heads",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    for table in ("heads", "challenges", "ciphertexts", "latest", "entries", "log_state"):
        op.drop_table(table)
