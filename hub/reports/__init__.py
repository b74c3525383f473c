"""Performance reports of service providers: per queue, department, channel... over any period,
computed in SQL (see performance.py), rendered as JSON, CSV, text and charts."""
