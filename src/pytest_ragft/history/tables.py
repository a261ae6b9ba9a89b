"""The tables of the store (SQLAlchemy Core), at the current schema version.

Names carry a ``ragft_`` prefix so the store can share a PostgreSQL database or schema with
other applications.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

SCHEMA_VERSION = 3
"""The version these definitions describe; ``migrations`` brings older stores up to it."""

metadata = sa.MetaData()

# JSON in SQLite (text), JSONB in PostgreSQL so teams can query results in SQL.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

schema_version = sa.Table(
    "ragft_schema",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("written_by", sa.String(40), nullable=True),
)

runs = sa.Table(
    "ragft_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(100), nullable=False, unique=True),
    sa.Column("suite", sa.String(200), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("git_sha", sa.String(64), nullable=True),
    sa.Column("branch", sa.String(255), nullable=True),
    sa.Column("base_branch", sa.String(255), nullable=True),
    sa.Column("pr", sa.Integer, nullable=True),
    sa.Column("ci_provider", sa.String(40), nullable=True),
    sa.Column("run_url", sa.Text, nullable=True),
    sa.Column("pipeline", sa.String(255), nullable=True),
    sa.Column("config_hash", sa.String(128), nullable=True),
    sa.Column("plugin_version", sa.String(40), nullable=True),
    sa.Column("verdict", sa.String(8), nullable=True),
    sa.Column("outputs_stored", sa.Boolean, nullable=False),
    # Schema 2: a dirty work tree, and whether the run may form a baseline (null: it may).
    sa.Column("dirty", sa.Boolean, nullable=True),
    sa.Column("in_baseline", sa.Boolean, nullable=True),
    # The whole report as zlib-compressed JSON: reports are regenerated from it, and it is most
    # of a run's size (answers compress about tenfold).
    sa.Column("report", sa.LargeBinary, nullable=False),
)
sa.Index("ix_ragft_runs_suite_branch_started", runs.c.suite, runs.c.branch, runs.c.started_at)
sa.Index("ix_ragft_runs_suite_started", runs.c.suite, runs.c.started_at)
sa.Index("ix_ragft_runs_started", runs.c.started_at)

categories = sa.Table(
    "ragft_categories",
    metadata,
    sa.Column("run_pk", sa.Integer, sa.ForeignKey(runs.c.id, ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(40), primary_key=True),
    sa.Column("passed", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("error", sa.Integer, nullable=False),
    sa.Column("skipped", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("rate", sa.Float, nullable=True),
    # Schema 3: the category's retrieval quality and usage (runsummary.Retrieval and Usage),
    # null where no case measured them. Columns, not a table of their own: they share the
    # (run, category) key and the trend reads them with the pass rate in one query.
    *(sa.Column(name, sa.Float, nullable=True) for name in ("hit", "recall", "mrr", "ndcg")),
    sa.Column("retrieval_k", sa.Integer, nullable=True),
    sa.Column("fact_recall", sa.Float, nullable=True),
    *(
        sa.Column(name, sa.Float, nullable=True)
        for name in ("latency_p50_s", "latency_p95_s", "tokens_per_case", "cost_per_case")
    ),
)

results = sa.Table(
    "ragft_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_pk", sa.Integer, sa.ForeignKey(runs.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("case_id", sa.String(255), nullable=False),
    sa.Column("repeat", sa.Integer, nullable=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("tags", JSONType, nullable=False),
    sa.Column("volatile", sa.Boolean, nullable=False),
    sa.Column("outcome", sa.String(10), nullable=False),
    sa.Column("case_outcome", sa.String(10), nullable=False),
    sa.Column("pass_ratio", sa.Float, nullable=True),
    sa.Column("diagnosis", sa.String(20), nullable=True),
    sa.Column("static_diagnosis", sa.String(20), nullable=True),
    sa.Column("counterfactual", sa.String(10), nullable=True),
    sa.Column("latency_s", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("answer_excerpt", sa.Text, nullable=True),
    sa.Column("answer_sha256", sa.String(64), nullable=True),
    sa.Column("messages", JSONType, nullable=False),
    sa.Column("input_hash", sa.String(64), nullable=False),
    # Schema 2: the digest of the case's expectations, to tell a changed case from a flaky one.
    sa.Column("content_hash", sa.String(64), nullable=True),
    # Schema 3: the variant that gave the row (``[tool.ragft.variants.NAME]``); null for the
    # main pipeline, the only rows baselines, trends and flakiness read.
    sa.Column("pipeline", sa.String(100), nullable=True),
)
sa.Index("ix_ragft_results_run_case", results.c.run_pk, results.c.case_id)
sa.Index("ix_ragft_results_case", results.c.case_id)

MEASURES = (
    "hit",
    "recall",
    "mrr",
    "ndcg",
    "retrieval_k",
    "fact_recall",
    "latency_p50_s",
    "latency_p95_s",
    "tokens_per_case",
    "cost_per_case",
)
"""The schema 3 columns of ``categories``, in the order they were added."""

judge_cache = sa.Table(
    "ragft_judge_cache",
    metadata,
    # Schema 3: a judged metric's result, by the digest of the metric spec, the judge model's
    # name and the case fields the metric reads, so an unchanged answer is judged once.
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("metric", sa.String(200), nullable=False),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("success", sa.Boolean, nullable=True),
    sa.Column("threshold", sa.Float, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("judged_at", sa.DateTime(timezone=True), nullable=False),
)
