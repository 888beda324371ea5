"""web sessions record the passkey that opened them

A person sees their own passkeys at the web inbox, "this device" marked, and removing one (by
them or an administrator) ends only the sessions it opened. Nullable: a link's session has no
passkey, and a passkey's session opened before this records none (its removal still ends
every passkey session at the contact, as before; each lasts 8 hours at most).

Revision ID: 7245195bb11f
Revises: '21878ca0a977'
Created: 2026-11-30 23:48:20.637577
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7245195bb11f"
down_revision: str | Sequence[str] | None = "21878ca0a977"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("credential_id", sa.String(1400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("credential_id")
