"""How the Reports page draws a report's blocks, shared by the saved view and the editor's
preview so that a draft reads exactly as it will once saved.

Core has already resolved every block for the reader (core.reports.render_report for a saved
version, core.reports.render_draft for the draft): this module only lays the results out.
"""

from __future__ import annotations

import streamlit as st

from core.reports import RenderedBlock
from pages import _ui


def show_blocks(blocks: list[RenderedBlock] | tuple[RenderedBlock, ...], key: str) -> None:
    """Draw ``blocks`` top to bottom, each in a container keyed ``{key}_block_{n}``.

    Args:
        blocks: What core rendered for the reader.
        key: Prefix of every element key ("report" for the saved view, another for a preview,
            so both can be on one page).
    """
    for n, block in enumerate(blocks):
        with st.container(key=f"{key}_block_{n}"):
            if block.error:
                _ui.error(block.error)
            if block.title:
                st.subheader(block.title, anchor=False)
            if block.html:
                st.html(block.html)  # rendered by core: raw HTML in the text is escaped
            for line in block.placeholders:
                st.warning(line, icon=":material/visibility_off:")
            for i, (title, fig) in enumerate(block.figures):
                if title:
                    st.markdown(f"**{_ui.md_escape(title)}**")
                st.plotly_chart(fig, key=f"{key}_fig_{n}_{i}")
            for line in block.notes:
                st.caption(_ui.md_escape(line))
            if block.table:
                st.dataframe(list(block.table), hide_index=True, key=f"{key}_table_{n}")
