"""Every construct retort_sqlalchemy must render, in the style of a real application's models."""

import enum

from sqlalchemy import (
    DDL, BigInteger, Boolean, CheckConstraint, Computed, DateTime, Enum, ForeignKey, Identity, Index,
    Integer, MetaData, Numeric, Sequence, String, Text, UniqueConstraint, event, func, text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={"ix": "ix_%(column_0_label)s", "fk": "fk_%(table_name)s_%(column_0_name)s"})


class Mood(enum.Enum):
    happy = "happy"
    sad = "sad"


ticket_numbers = Sequence("ticket_number_seq", start=1000, increment=5, metadata=Base.metadata)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("length(name) > 0", name="users_name_not_empty"),
        UniqueConstraint("email", name="users_email_key"),
        Index("users_lower_email", func.lower(text("email"))),
        Index("users_active_name", "name", postgresql_where=text("active")),
        Index("users_tags", "tags", postgresql_using="gin"),
        Index("users_name_incl", "name", postgresql_include=["email"]),
        {"comment": "people who log in"},
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), comment="display name")
    email: Mapped[str] = mapped_column(Text)
    mood: Mapped[Mood] = mapped_column(Enum(Mood, name="mood"), server_default="happy")
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    tags: Mapped[list] = mapped_column(ARRAY(Text), server_default="{}")
    name_length: Mapped[int] = mapped_column(Integer, Computed("length(name)", persisted=True))
    created: Mapped[object] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = {"schema": "support", "comment": "help requests"}
    number: Mapped[int] = mapped_column(Integer, ticket_numbers, primary_key=True,
                                        server_default=ticket_numbers.next_value())
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    price: Mapped[float] = mapped_column(Numeric(10, 2), CheckConstraint("price >= 0", name="tickets_price_check"),
                                         server_default="0")
    data: Mapped[dict] = mapped_column(JSONB, nullable=True)
    updated: Mapped[object] = mapped_column(DateTime(timezone=True), server_default=func.now())


# What such applications attach as DDL: a schema, a view, a function and a trigger.
event.listen(Base.metadata, "before_create", DDL("CREATE SCHEMA IF NOT EXISTS support"))
event.listen(Base.metadata, "after_create", DDL(
    "CREATE VIEW active_users AS SELECT id, name FROM users WHERE active AND name LIKE 'a%%'"))
event.listen(Ticket.__table__, "after_create", DDL("""
CREATE FUNCTION support.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER tickets_touch BEFORE UPDATE ON support.tickets FOR EACH ROW EXECUTE FUNCTION support.touch()
"""))
