"""Each user's private calendar feed (iCalendar over HTTP)."""
