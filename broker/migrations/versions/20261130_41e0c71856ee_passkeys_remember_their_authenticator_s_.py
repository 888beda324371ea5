"""passkeys remember their authenticator's AAGUID

The administrators' list of a person's passkeys names each by the kind of authenticator that
holds it ("Windows Hello", "iCloud Keychain"), from the AAGUID the authenticator reports at
enrolment; nothing else kept about a passkey says it. Nullable: passkeys enrolled before this
show as "Passkey".

Revision ID: 41e0c71856ee
Revises: '342831588d88'
Created: 2026-11-30 12:58:20.700249
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "41e0c71856ee"
down_revision: str | Sequence[str] | None = "fa1529136cdf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("web_passkeys") as batch:
        batch.add_column(sa.Column("aaguid", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_passkeys") as batch:
        batch.drop_column("aaguid")
