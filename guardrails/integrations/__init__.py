"""Helpers for agent frameworks; each module imports its framework only when used.

- ``guardrails.integrations.langchain``: LangChain tools and LangGraph's ``ToolNode``.
"""
