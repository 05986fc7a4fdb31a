"""Form fields shared by the features."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class DecimalTextField(StringField):
    """A decimal typed with a comma or a point ("18,5" or "18.5"); ``data`` is a ``Decimal`` or ``None``.

    Kept as text (not WTForms' DecimalField) so that the Vietnamese decimal comma is accepted and nothing passes
    through a float.
    """

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = Decimal(valuelist[0].strip().replace(",", "."))
        except InvalidOperation:
            self.data = None
            raise ValueError(_l("Không phải là số.")) from None
        if not self.data.is_finite():
            self.data = None
            raise ValueError(_l("Không phải là số."))

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else str(self.data).replace(".", ",")
