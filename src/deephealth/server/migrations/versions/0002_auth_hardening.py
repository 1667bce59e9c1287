"""auth hardening: login/sign-up attempts for persistent rate limits, API token scopes, tokens
minted by tokens revoked

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 18:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auth_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_attempts_ip"), ["ip"], unique=False)
        batch_op.create_index(batch_op.f("ix_auth_attempts_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_auth_attempts_at"), ["at"], unique=False)
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scope", sa.String(length=16), nullable=False, server_default="full")
        )
    # API tokens can no longer mint tokens: those an API token created before are revoked (the
    # audit log says which: a token.create entry made with a token).
    op.execute(
        "UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP WHERE revoked_at IS NULL AND id IN "
        "(SELECT object_id FROM audit_log WHERE action = 'token.create' "
        "AND object_type = 'api_token' AND token_id IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("scope")
    with op.batch_alter_table("auth_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_attempts_at"))
        batch_op.drop_index(batch_op.f("ix_auth_attempts_email"))
        batch_op.drop_index(batch_op.f("ix_auth_attempts_ip"))
    op.drop_table("auth_attempts")
