"""In-app notifications (mentions, overdue tasks) for members."""
