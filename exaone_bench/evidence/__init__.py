"""The typed result records and MLflow, the only place that imports mlflow."""
