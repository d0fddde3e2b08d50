"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 10:49:26.835523
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('tenants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('settings', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('name', name=op.f('uq_tenants_name'))
    )
    op.create_table('audit_checkpoints',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('signature', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_audit_checkpoints_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'seq', name=op.f('pk_audit_checkpoints'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=256), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=128), nullable=False),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_audit_events_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('tenant_id', 'seq', name=op.f('uq_audit_events_tenant_id_seq'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_tenant_id_object_type_object_id'), ['tenant_id', 'object_type', 'object_id'], unique=False)

    op.create_table('audit_heads',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_audit_heads_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_audit_heads'))
    )
    op.create_table('iot_systems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('scope', sa.Text(), nullable=True),
    sa.Column('data_flows', sa.Text(), nullable=False),
    sa.Column('raci', sa.Text(), nullable=False),
    sa.Column('device_ids', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_iot_systems_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iot_systems')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_iot_systems_tenant_id_name'))
    )
    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('address', sa.String(length=256), nullable=True),
    sa.Column('kind', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sites_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_sites_tenant_id_name'))
    )
    op.create_table('suppliers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('disclosure_url', sa.String(length=512), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_suppliers_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppliers')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_suppliers_tenant_id_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_users_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('tenant_id', 'email', name=op.f('uq_users_tenant_id_email'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_tokens_tenant_id_tenants')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens'))
    )
    op.create_table('data_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('classification', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('system_id', sa.Integer(), nullable=True),
    sa.Column('protected_by', sa.Text(), nullable=False),
    sa.Column('aggregate_of', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['iot_systems.id'], name=op.f('fk_data_items_system_id_iot_systems')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_data_items_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_items')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_data_items_tenant_id_name'))
    )
    op.create_table('device_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('vendor', sa.String(length=128), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('device_type', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=True),
    sa.Column('supplier_id', sa.Integer(), nullable=True),
    sa.Column('end_of_support', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_device_models_supplier_id_suppliers')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_device_models_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_models')),
    sa.UniqueConstraint('tenant_id', 'vendor', 'model', name=op.f('uq_device_models_tenant_id_vendor_model'))
    )
    op.create_table('segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('cidrs', sa.Text(), nullable=False),
    sa.Column('vlan', sa.Integer(), nullable=True),
    sa.Column('zone', sa.String(length=32), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_segments_site_id_sites')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_segments_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segments')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_segments_tenant_id_name'))
    )
    op.create_table('devices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('device_type', sa.String(length=32), nullable=False),
    sa.Column('lifecycle_state', sa.String(length=16), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=True),
    sa.Column('serial', sa.String(length=128), nullable=True),
    sa.Column('mac_addresses', sa.Text(), nullable=False),
    sa.Column('ip_addresses', sa.Text(), nullable=False),
    sa.Column('imei', sa.String(length=15), nullable=True),
    sa.Column('iccid', sa.String(length=22), nullable=True),
    sa.Column('vin', sa.String(length=17), nullable=True),
    sa.Column('hostname', sa.String(length=253), nullable=True),
    sa.Column('cert_sha256', sa.String(length=64), nullable=True),
    sa.Column('firmware_version', sa.String(length=256), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('owner', sa.String(length=256), nullable=True),
    sa.Column('criticality', sa.String(length=16), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('ever_in_service', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['device_models.id'], name=op.f('fk_devices_model_id_device_models')),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name=op.f('fk_devices_segment_id_segments')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_devices_site_id_sites')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_devices_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_tenant_id_device_type_site_id_id'), ['tenant_id', 'device_type', 'site_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_tenant_id_id'), ['tenant_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_tenant_id_last_seen_id'), ['tenant_id', 'last_seen', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_tenant_id_lifecycle_state_id'), ['tenant_id', 'lifecycle_state', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_tenant_id_name_id'), ['tenant_id', 'name', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_tenant_id_site_id_id'), ['tenant_id', 'site_id', 'id'], unique=False)

    op.create_table('change_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('requester', sa.String(length=256), nullable=False),
    sa.Column('approver', sa.String(length=256), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('reference', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_change_requests_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_change_requests_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_requests'))
    )
    with op.batch_alter_table('change_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_requests_tenant_id_device_id'), ['tenant_id', 'device_id'], unique=False)

    op.create_table('device_addresses',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=253), nullable=False),
    sa.Column('device_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_addresses_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'kind', 'value', 'device_id', name=op.f('pk_device_addresses')),
    sqlite_with_rowid=False,
    )
    with op.batch_alter_table('device_addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_addresses_device_id'), ['device_id'], unique=False)

    op.create_table('device_identifiers',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.Column('device_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_identifiers_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'kind', 'value', name=op.f('pk_device_identifiers')),
    sqlite_with_rowid=False,
    )
    with op.batch_alter_table('device_identifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_identifiers_device_id'), ['device_id'], unique=False)

    op.create_table('software_components',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('version', sa.String(length=128), nullable=True),
    sa.Column('purl', sa.String(length=512), nullable=True),
    sa.Column('cpe', sa.String(length=512), nullable=True),
    sa.Column('device_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('model_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_software_components_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['device_models.id'], name=op.f('fk_software_components_model_id_device_models'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_software_components_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_software_components'))
    )
    with op.batch_alter_table('software_components', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_software_components_tenant_id_device_id'), ['tenant_id', 'device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_software_components_tenant_id_model_id'), ['tenant_id', 'model_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('software_components', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_software_components_tenant_id_model_id'))
        batch_op.drop_index(batch_op.f('ix_software_components_tenant_id_device_id'))

    op.drop_table('software_components')
    with op.batch_alter_table('device_identifiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_identifiers_device_id'))

    op.drop_table('device_identifiers')
    with op.batch_alter_table('device_addresses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_addresses_tenant_id_kind_value'))
        batch_op.drop_index(batch_op.f('ix_device_addresses_device_id'))

    op.drop_table('device_addresses')
    with op.batch_alter_table('change_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_requests_tenant_id_device_id'))

    op.drop_table('change_requests')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_tenant_id_site_id_id'))
        batch_op.drop_index(batch_op.f('ix_devices_tenant_id_name_id'))
        batch_op.drop_index(batch_op.f('ix_devices_tenant_id_lifecycle_state_id'))
        batch_op.drop_index(batch_op.f('ix_devices_tenant_id_last_seen_id'))
        batch_op.drop_index(batch_op.f('ix_devices_tenant_id_id'))
        batch_op.drop_index(batch_op.f('ix_devices_tenant_id_device_type_site_id_id'))

    op.drop_table('devices')
    op.drop_table('segments')
    op.drop_table('device_models')
    op.drop_table('data_items')
    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('suppliers')
    op.drop_table('sites')
    op.drop_table('iot_systems')
    op.drop_table('audit_heads')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_tenant_id_object_type_object_id'))

    op.drop_table('audit_events')
    op.drop_table('audit_checkpoints')
    op.drop_table('tenants')

