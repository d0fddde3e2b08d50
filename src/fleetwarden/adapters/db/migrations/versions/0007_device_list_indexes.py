"""device list indexes: type + site sorted by name or last seen

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 04:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_tenant_id_device_type_site_id_name_id'), ['tenant_id', 'device_type', 'site_id', 'name', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_tenant_id_device_type_site_id_last_seen_id'), ['tenant_id', 'device_type', 'site_id', 'last_seen', 'id'], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
        # SQLite with statistics for the old indexes and none for these picks these
        # covering indexes for plain "ORDER BY id" and sorts a million rows.
        bind.exec_driver_sql("ANALYZE devices")


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_tenant_id_device_type_site_id_last_seen_id'))
        batch_op.drop_index(batch_op.f('ix_devices_tenant_id_device_type_site_id_name_id'))
