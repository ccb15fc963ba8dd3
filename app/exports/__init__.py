"""Exports: any table of rows as CSV (UTF-8 with BOM, safe to open in Excel) or XLSX (real
number and date cells), rendered whole for reports or streamed for the ledger."""
