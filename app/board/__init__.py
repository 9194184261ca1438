"""The kanban board: stage history of deals, loss reasons and the board's columns."""
