"""Add authors.nickname.

Revision ID: c0ffee5e1f00
Revises: TEMPLATE_HEAD
Create Date: 2026-11-29 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0ffee5e1f00"
down_revision: str | Sequence[str] | None = "TEMPLATE_HEAD"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("authors", sa.Column("nickname", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("authors", "nickname")
