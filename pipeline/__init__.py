"""counterwatch: a computer-vision conduct monitor for customer-service halls."""

__version__ = "0.1.0"
