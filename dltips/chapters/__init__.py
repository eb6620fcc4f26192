"""The chapters' own code: one module per chapter (or more), holding only that chapter's
experiments and the computations behind its demos. A chapter module imports the core
(``dltips.<module>``), never another chapter module."""
