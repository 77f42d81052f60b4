"""An application on SQLAlchemy 2's asyncio ORM, through asyncpg and through psycopg 3:
create_all, a one-to-many relationship loaded with selectinload, JSONB, text[], numeric,
timestamptz, time, uuid and bytea columns, array containment, a JSON path, an update, a
cascading delete, a text() query with a bound parameter, and reflection.

Usage: sqlalchemy_orm.py PORT asyncpg|psycopg. Prints one line of what came back, which
PythonClientTests compares with what PostgreSQL 15 gives for the same script.
"""
import asyncio
import datetime
import decimal
import sys
import uuid

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, LargeBinary, Numeric, String, Text, Time, func, inspect, select, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

port, driver = int(sys.argv[1]), sys.argv[2]


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "sa_authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    born: Mapped[datetime.date | None] = mapped_column(Date)
    books: Mapped[list["Book"]] = relationship(back_populates="author", cascade="all, delete-orphan")


class Book(Base):
    __tablename__ = "sa_books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    price: Mapped[decimal.Decimal] = mapped_column(Numeric(8, 2))
    meta: Mapped[dict] = mapped_column(JSONB, default=dict)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    published: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    at: Mapped[datetime.time | None] = mapped_column(Time)
    uid: Mapped[uuid.UUID] = mapped_column(UUID, default=uuid.uuid4)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("sa_authors.id"))
    author: Mapped[Author] = relationship(back_populates="books")


async def main():
    engine = create_async_engine(f"postgresql+{driver}://tester@127.0.0.1:{port}/reddb")
    out = {}
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as session:
        ada = Author(name="Ada", born=datetime.date(1815, 12, 10))
        ada.books = [
            Book(title="Notes", price=decimal.Decimal("9.99"), meta={"k": [1, 2]}, tags=["math", "engine"],
                 published=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc), at=datetime.time(9, 30), blob=b"\x00\xff"),
            Book(title="Letters", price=decimal.Decimal("5.00"), published=datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc)),
        ]
        session.add(ada)
        await session.commit()
        found = (await session.execute(select(Author).options(selectinload(Author.books)).where(Author.name == "Ada"))).scalar_one()
        out["books"] = sorted((b.title, str(b.price), b.meta, b.tags, b.published.isoformat(), str(b.at), b.blob, b.active,
                               type(b.uid).__name__) for b in found.books)
        rows = await session.execute(select(Book.title, func.count()).group_by(Book.title).order_by(Book.title))
        out["grouped"] = [tuple(r) for r in rows]
        out["contains"] = [b.title for b in (await session.execute(select(Book).where(Book.tags.contains(["math"])))).scalars()]
        out["json_path"] = [b.title for b in (await session.execute(select(Book).where(Book.meta["k"][0].as_integer() == 1))).scalars()]
        letters = (await session.execute(select(Book).where(Book.title == "Letters"))).scalar_one()
        letters.price = decimal.Decimal("6.50")
        letters.tags = ["x"]
        await session.commit()
        out["updated"] = [tuple(map(str, r)) for r in await session.execute(select(Book.price, Book.tags).where(Book.title == "Letters"))]
        await session.delete(found)
        await session.commit()
        out["after_delete"] = (await session.execute(select(func.count()).select_from(Book))).scalar()
        out["text_parameter"] = (await session.execute(text("SELECT CAST(:x AS int) + 1 AS y"), {"x": 41})).scalar()
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        out["reflected"] = sorted(n for n in names if n.startswith("sa_"))
    await engine.dispose()
    print(out)


asyncio.run(main())
