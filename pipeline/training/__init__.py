"""Training the project's own detectors (the `ultralytics` extra): datasets, synthesis, fine-tuning, export."""
