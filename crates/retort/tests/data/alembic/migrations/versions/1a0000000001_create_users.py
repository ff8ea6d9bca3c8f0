"""create users

Revision ID: 1a0000000001
Revises:
Create Date: 2024-01-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '1a0000000001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('users', sa.Column('id', sa.Integer, primary_key=True), sa.Column('name', sa.Text, nullable=False))


def downgrade():
    op.drop_table('users')
