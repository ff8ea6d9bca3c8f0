"""The schema, as SQLAlchemy models: retort autogenerates the migrations from them
(`schema_command` in retort.toml)."""

from datetime import datetime

from sqlalchemy import DDL, BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, Text, event, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    """Who exists; passwords live in the shadow store, which this role can never read."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("length(username) BETWEEN 1 AND 64", name="users_username_check"),)
    username: Mapped[str] = mapped_column(Text, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Note(Base):
    __tablename__ = "notes"
    __table_args__ = (
        CheckConstraint("length(body) BETWEEN 1 AND 2000", name="notes_body_check"),
        Index("notes_by_user", "username", "id"),
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("users.username", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# The shadow password store (a migration of its own) needs pgcrypto; declaring it here keeps
# autogenerate from ever proposing to drop it.
event.listen(Base.metadata, "before_create", DDL("CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public"))
