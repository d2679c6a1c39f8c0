"""What operators watch: Prometheus metrics and the request timings behind them."""
