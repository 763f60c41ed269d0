"""Database helpers shared by apps: commit durability, and lean one-statement reads and writes of model rows.

The lean helpers exist for the ingest hot path (`docs/architecture/inbound-pipeline.md`, section 7): they write and
read exactly the rows the ORM would, from the same model metadata (every concrete field, `pre_save()` for
`auto_now`, `get_db_prep_save()` and the database converters), but with SQL built once per process instead of
compiled per call, which saves most of the ~0.5 ms of Python the ORM spends on each statement. Model signals are
not sent; use them only for models without receivers (tickets, contacts, messages, attachments, the ledger).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, Any], Any]
AnyField: TypeAlias = "Field[Any, Any]"


def relax_commit_durability() -> None:
    """For work that is re-done when lost: this transaction's commit need not wait for the WAL flush.

    PostgreSQL only (`SET LOCAL synchronous_commit = off`); must run inside a transaction. A commit lost in a
    database crash is simply redone from durable state; never use it for a commit someone is acknowledged on.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


@dataclass(frozen=True, slots=True)
class _InsertPlan:
    fields: tuple[AnyField, ...]
    head: str  # INSERT INTO "table" ("a", "b") VALUES
    row: str  # (%s, %s)
    tail: str  # [ON CONFLICT DO NOTHING] RETURNING "id"


@dataclass(frozen=True, slots=True)
class _SelectPlan:
    sql: str
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Converter, ...], Any], ...]  # (column index, converters, expression)


_insert_plans: dict[tuple[str, type[Model], bool], _InsertPlan] = {}
_select_plans: dict[tuple[str, type[Model], str, bool, bool], _SelectPlan] = {}
# `SET LOCAL synchronous_commit = off` as an expression (`set_config(..., is_local => true)`), for a SELECT list.
_RELAX_DURABILITY_COLUMN: Final = "set_config('synchronous_commit', 'off', true)"
_update_plans: dict[tuple[str, type[Model], tuple[str, ...]], tuple[str, tuple[AnyField, ...]]] = {}


def _quoted_column(field: AnyField) -> str:
    if field.column is None:  # pragma: no cover - concrete fields always have a column
        raise TypeError(f"{field} has no column")
    return connection.ops.quote_name(field.column)


def _quoted_pk(model: type[Model]) -> str:
    pk = model._meta.pk
    if pk is None:  # pragma: no cover - every concrete model has one
        raise TypeError(f"{model.__name__} has no primary key")
    return _quoted_column(pk)


def _insert_plan(model: type[Model], *, ignore_conflicts: bool) -> _InsertPlan:
    key = (connection.vendor, model, ignore_conflicts)
    plan = _insert_plans.get(key)
    if plan is None:
        meta = model._meta
        fields = tuple(f for f in meta.concrete_fields if not f.primary_key and not f.generated)
        table = connection.ops.quote_name(meta.db_table)
        columns = ", ".join(_quoted_column(f) for f in fields)
        plan = _InsertPlan(
            fields=fields,
            head=f"INSERT INTO {table} ({columns}) VALUES ",  # noqa: S608 - names from model metadata
            row="(" + ", ".join(["%s"] * len(fields)) + ")",
            tail=(" ON CONFLICT DO NOTHING" if ignore_conflicts else "") + f" RETURNING {_quoted_pk(model)}",
        )
        _insert_plans[key] = plan
    return plan


def _insert_params(plan: _InsertPlan, obj: Model) -> list[Any] | None:
    """The row's values as the ORM would send them; None when one is an expression (left to the ORM)."""
    params = []
    for f in plan.fields:
        value = f.pre_save(obj, True)
        if hasattr(value, "resolve_expression"):
            return None
        params.append(f.get_db_prep_save(value, connection))
    return params


def _mark_saved(obj: Model, pk: object) -> None:
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias


def insert_row(obj: Model, *, ignore_conflicts: bool = False) -> bool:
    """INSERT one instance with one statement (… RETURNING id) and set its pk; like `save(force_insert=True)`.

    `ignore_conflicts`: a row that breaks a unique constraint is skipped (ON CONFLICT DO NOTHING, on PostgreSQL and
    SQLite) and False is returned, without the savepoint that `get_or_create` needs.
    """
    plan = _insert_plan(type(obj), ignore_conflicts=ignore_conflicts)
    params = _insert_params(plan, obj)
    if params is None:  # a database default or an expression: the ORM knows how to compile it
        if not ignore_conflicts:
            obj.save(force_insert=True)
            return True
        try:
            with transaction.atomic():
                obj.save(force_insert=True)
        except IntegrityError:
            return False
        return True
    with connection.cursor() as cursor:
        cursor.execute(plan.head + plan.row + plan.tail, params)
        row = cursor.fetchone()
    if row is None:
        return False
    _mark_saved(obj, row[0])
    return True


def insert_rows(objs: Sequence[Model]) -> None:
    """INSERT instances of one model in one statement and set their pks; like `bulk_create` without batching."""
    if not objs:
        return
    plan = _insert_plan(type(objs[0]), ignore_conflicts=False)
    rows = [_insert_params(plan, obj) for obj in objs]
    if any(params is None for params in rows):
        type(objs[0])._base_manager.bulk_create(list(objs))
        return
    values = ", ".join([plan.row] * len(objs))
    with connection.cursor() as cursor:
        cursor.execute(plan.head + values + plan.tail, [p for params in rows for p in params or ()])
        pks = [r[0] for r in cursor.fetchall()]
    for obj, pk in zip(objs, pks, strict=True):  # RETURNING gives rows in VALUES order (as bulk_create relies on)
        _mark_saved(obj, pk)


def update_row(obj: Model, field_names: Sequence[str]) -> int:
    """UPDATE these fields of one row by pk (`auto_now` fields are set); like `save(update_fields=...)`."""
    model = type(obj)
    key = (connection.vendor, model, tuple(field_names))
    plan = _update_plans.get(key)
    if plan is None:
        meta = model._meta
        fields = tuple(meta.get_field(name) for name in field_names)
        concrete = tuple(f for f in fields if isinstance(f, Field))
        if len(concrete) != len(fields):
            raise TypeError(f"update_row takes concrete fields only: {field_names}")
        assignments = ", ".join(f"{_quoted_column(f)} = %s" for f in concrete)
        table = connection.ops.quote_name(meta.db_table)
        plan = (f"UPDATE {table} SET {assignments} WHERE {_quoted_pk(model)} = %s", concrete)  # noqa: S608 - names from model metadata
        _update_plans[key] = plan
    sql, update_fields = plan
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in update_fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, obj.pk])
        return int(cursor.rowcount)


def _select_plan(model: type[M], where: str, *, for_update: bool, relax_durability: bool = False) -> _SelectPlan:
    key = (connection.vendor, model, where, for_update, relax_durability)
    plan = _select_plans.get(key)
    if plan is None:
        meta = model._meta
        fields = meta.concrete_fields
        lock = " FOR UPDATE" if for_update and connection.features.has_select_for_update else ""
        converters = []
        for index, f in enumerate(fields):
            col = f.get_col(meta.db_table)
            found = tuple(connection.ops.get_db_converters(col) + f.get_db_converters(connection))
            if found:
                converters.append((index, found, col))
        columns = [_quoted_column(f) for f in fields]
        if relax_durability and connection.vendor == "postgresql":
            columns.append(_RELAX_DURABILITY_COLUMN)  # read along with the row: one round trip less
        plan = _SelectPlan(
            sql=(
                f"SELECT {', '.join(columns)} "  # noqa: S608 - names from model metadata
                f"FROM {connection.ops.quote_name(meta.db_table)} WHERE {where}{lock}"  # `where`: our own code
            ),
            attnames=tuple(f.attname for f in fields),
            converters=tuple(converters),
        )
        _select_plans[key] = plan
    return plan


def fetch_row(
    model: type[M], where: str, params: Sequence[Any], *, for_update: bool = False, relax_durability: bool = False
) -> M | None:
    """The row matching `where` (SQL with %s placeholders, our own code only) as a model instance, or None.

    `for_update` locks it (PostgreSQL; SQLite holds the database write lock from BEGIN IMMEDIATE anyway).
    `relax_durability` does what `relax_commit_durability()` does, in the same statement, when a row is found
    (the setting is evaluated per row returned); must run inside a transaction, under the same rule."""
    plan = _select_plan(model, where, for_update=for_update, relax_durability=relax_durability)
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row[: len(plan.attnames)])
    for index, converters, expression in plan.converters:
        value = values[index]
        for convert in converters:
            value = convert(value, expression, connection)
        values[index] = value
    return model.from_db(connection.alias, list(plan.attnames), values)
