"""Funnel analytics: conversion and drop-off, win rate, time in stage and sales cycle,
loss reasons and competitors, weighted forecast, performance per owner, lead sources.

Every report is one or a few aggregate queries run by PostgreSQL (:mod:`.queries`), over
the deals and stage history the member may see (:mod:`.filters` applies the scope), so
that the web page, the API and the CSV files answer the same numbers. Definitions are in
``docs/reports.md``.
"""
