"""Streamed CSV and XLSX exports of any list or segment."""
